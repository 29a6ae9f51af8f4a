import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LlmTestServer } from '@shiioo/testkit'
import { startLlmTestServer } from '@shiioo/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli, tempDirs } from './helpers.js'

const dirs = tempDirs()
let llm: LlmTestServer
beforeAll(async () => {
  assertBuilt()
  llm = await startLlmTestServer({ apiKey: 'sk-e2e-secret' })
  // the first turn of a conversation asks for a tool; with the tool's result, it answers
  llm.setReply((r) =>
    r.toolResults.length === 0
      ? {
          // as a vendor's model does: it calls the tool by the name the request offered it
          toolCalls: [{ name: r.tools[0]?.name ?? 'core_echo', input: { topic: r.lastUserText } }],
          usage: { inputTokens: 400, outputTokens: 40 },
        }
      : { text: `brief built from ${r.toolResults[0]!.content}`, usage: { inputTokens: 600, outputTokens: 80 } },
  )
})
afterAll(async () => {
  await llm.close()
  await dirs.cleanup()
})

const WORKFLOW = `name: research
steps:
  - id: research
    kind: agent
    role: researcher
    prompt: durable agents
    tools: [core.echo]
  - id: review
    kind: agent
    role: reviewer
    needs: [research]
    prompt: 'Review: \${{ steps.research.output.text }}'
output: '\${{ steps.review.output }}'
`

describe('agent steps on a configured OpenAI-compatible source (real CLI, real HTTP)', () => {
  it('runs the tool loop through the pool, shows each turn, keeps the key out of everything, and reports costs', async () => {
    const cwd = await dirs.make()
    await writeFile(
      join(cwd, 'shiioo.toml'),
      [
        '[[capacity.sources]]',
        'id = "main"',
        'provider = "openai"',
        `base_url = "${llm.openAiBaseUrl}"`,
        'api_key_env = "E2E_LLM_KEY"',
        'models = ["gpt-test"]',
        'requests_per_minute = 100',
        'price_input_per_1m = 2',
        'price_output_per_1m = 10',
        '[roles.researcher]',
        'system_prompt = "You research topics with your tools."',
        'model = "gpt-test"',
      ].join('\n'),
    )
    await writeFile(join(cwd, 'research.yaml'), WORKFLOW)
    const env = { E2E_LLM_KEY: 'sk-e2e-secret' }
    const r = await runCli(['run', 'research.yaml'], { cwd, env })
    expect(r.stderr).not.toMatch(/^error:/m)
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/research turn 1: gpt-test via main \(400\+40 tokens, \$0\.0012\)/)
    expect(r.stderr).toMatch(/research turn 2: gpt-test via main \(600\+80 tokens, \$0\.0020\)/)
    const output = JSON.parse(r.stdout) as { text: string; turns: number; cost: number }
    expect(output).toMatchObject({ turns: 2 })
    const calls = llm.requests.filter((q) => q.status === 200)
    expect(calls.length).toBeGreaterThanOrEqual(4)
    expect(calls[0]!.headers.authorization).toBe('Bearer sk-e2e-secret')
    expect(calls[0]!.idempotencyKey).toMatch(/^run_\w+:research:1:t1$/)
    // a role with no configuration runs on the default model with a plain prompt
    const review = calls.find((q) => JSON.stringify(q.body).includes('You are the reviewer'))
    expect(review).toBeDefined()
    const events = await runCli(['runs', 'list', '--json'], { cwd, env })
    const runId = (JSON.parse(events.stdout) as { items: { runId: string }[] }).items[0]!.runId
    const log = await runCli(['events', runId, '--json'], { cwd, env })
    expect(log.stdout).toContain('"type":"agent.turn"')
    expect(log.stdout + r.stdout + r.stderr).not.toContain('sk-e2e-secret')
    const costs = await runCli(['costs', '--by', 'role', '--json'], { cwd, env })
    const rows = JSON.parse(costs.stdout) as { key: string; calls: number; cost: number }[]
    expect(rows.map((row) => [row.key, row.calls])).toEqual([
      ['researcher', 2],
      ['reviewer', 2],
    ])
    expect(rows[0]!.cost).toBeCloseTo(0.0032)
    const table = await runCli(['costs', '--by', 'source', '--since', '1h'], { cwd, env })
    expect(table.stdout).toMatch(/^SOURCE\s+CALLS\s+INPUT\s+OUTPUT\s+COST$/m)
    expect(table.stdout).toMatch(/^main\s+4\s+2000\s+240\s+\$0\.0064$/m)
  })

  it('runs the README demo: examples/capacity with the simulated provider, no key', async () => {
    const cwd = await dirs.make()
    const repo = fileURLToPath(new URL('../../../', import.meta.url))
    const r = await runCli(
      [
        'run',
        join(repo, 'examples/workflows/linear-agent-pipeline.yaml'),
        '--config',
        join(repo, 'examples/capacity/shiioo.toml'),
        '--input',
        'topic=durability',
      ],
      { cwd },
    )
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/research turn 1: simulated via demo/)
    expect(JSON.parse(r.stdout)).toMatchObject({
      brief: 'Durable agents keep every step as an event, so nothing is lost and everything can be replayed.',
    })
  })

  it('logs why a source failed at each failover and names the cause in the step error, never the key', async () => {
    const key = 'sk-e2e-failing-0042'
    const failing = await startLlmTestServer({ apiKey: key })
    // the vendor's message echoes the credentials it was sent: they must be redacted everywhere
    failing.setReply((r) => {
      throw new Error(`upstream refused ${r.headers.authorization ?? '-'}`)
    })
    try {
      const cwd = await dirs.make()
      const source = (id: string) =>
        `[[capacity.sources]]\nid = "${id}"\nprovider = "openai"\nbase_url = "${failing.openAiBaseUrl}"\n` +
        `api_key_env = "E2E_FAILING_KEY"\nmodels = ["gpt-test"]\n`
      await writeFile(join(cwd, 'shiioo.toml'), source('primary') + source('backup'))
      await writeFile(
        join(cwd, 'ask.yaml'),
        'name: ask\nsteps:\n  - id: ask\n    kind: agent\n    role: writer\n    prompt: hi\n    retry: { maxAttempts: 1 }\n',
      )
      const env = { E2E_FAILING_KEY: key }
      const r = await runCli(['run', 'ask.yaml'], { cwd, env })
      expect(r.code).toBe(1)
      const cause = 'openai answered 500 server_error: The reply script failed: upstream refused Bearer [redacted]'
      const logs = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      const failovers = logs.filter((l) => l.msg === 'capacity source failed; failing over')
      expect(failovers.length).toBeGreaterThanOrEqual(1)
      expect(failovers[0]).toMatchObject({
        level: 40,
        source: expect.stringMatching(/^(primary|backup)$/),
        status: 500,
        type: 'server_error',
        requestId: 'req_1',
        cause: `${cause} (request id req_1)`,
      })
      const last = `req_${failing.requests.length}`
      expect(r.stderr).toContain(`run failed at step ask: UNAVAILABLE: ${cause} (request id ${last})\n`)
      const runId = /^run (run_\w{26}) failed/m.exec(r.stderr)![1]!
      const shown = await runCli(['runs', 'show', runId], { cwd, env })
      expect(shown.stdout).toMatch(
        new RegExp(`^ask +agent +failed +1 .*UNAVAILABLE: openai answered 500 server_error: `, 'm'),
      )
      const events = await runCli(['events', runId, '--json'], { cwd, env })
      for (const text of [r.stdout, r.stderr, shown.stdout, events.stdout]) expect(text).not.toContain(key)
    } finally {
      await failing.close()
    }
  })

  it('refuses to start when the key variable is missing, naming it', async () => {
    const cwd = await dirs.make()
    await writeFile(
      join(cwd, 'shiioo.toml'),
      `[[capacity.sources]]\nid = "main"\nprovider = "openai"\napi_key_env = "E2E_MISSING_KEY"\nmodels = ["m"]\n`,
    )
    await writeFile(join(cwd, 'research.yaml'), WORKFLOW)
    const r = await runCli(['run', 'research.yaml'], { cwd })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('capacity source main: environment variable E2E_MISSING_KEY is not set')
  })
})
