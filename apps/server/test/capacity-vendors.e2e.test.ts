import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LlmTestServer } from '@shiioo/testkit'
import { startLlmTestServer } from '@shiioo/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli, tempDirs } from './helpers.js'

// Issue 13 through the real CLI against the strict stand-in for the vendors (real HTTP, real 429s,
// max_tokens counted, rate-limit headers, tool names checked).

const dirs = tempDirs()
const servers: LlmTestServer[] = []
beforeAll(() => assertBuilt())
afterAll(async () => {
  for (const s of servers) await s.close()
  await dirs.cleanup()
})

async function llm(options: Parameters<typeof startLlmTestServer>[0] = {}): Promise<LlmTestServer> {
  const s = await startLlmTestServer(options)
  servers.push(s)
  return s
}

function source(id: string, provider: 'openai' | 'anthropic', s: LlmTestServer, extra: string[] = []): string {
  return [
    '[[capacity.sources]]',
    `id = "${id}"`,
    `provider = "${provider}"`,
    `base_url = "${provider === 'openai' ? s.openAiBaseUrl : s.anthropicBaseUrl}"`,
    'api_key_env = "E2E_VENDOR_KEY"',
    'models = ["m"]',
    ...extra,
    '',
  ].join('\n')
}

function agents(name: string, n: number, extra = ''): string {
  const steps = Array.from(
    { length: n },
    (_, i) => `  - id: s${i}\n    kind: agent\n    role: writer\n    prompt: 'step ${i} of ${name}'\n${extra}`,
  )
  return `name: ${name}\nsteps:\n${steps.join('')}`
}

describe('capacity against strict vendors (real CLI)', () => {
  it('Anthropic: a tool-using agent step runs (core.echo goes out as core_echo and comes back)', async () => {
    const s = await llm({ apiKey: 'sk-ant-e2e' })
    s.setReply((r) =>
      r.toolResults.length === 0
        ? { toolCalls: [{ name: r.tools[0]!.name, input: { q: 1 } }] }
        : { text: `done with ${r.toolResults[0]!.content}` },
    )
    const cwd = await dirs.make()
    await writeFile(join(cwd, 'shiioo.toml'), source('claude', 'anthropic', s))
    await writeFile(
      join(cwd, 'tools.yaml'),
      "name: tools\nsteps:\n  - id: ask\n    kind: agent\n    role: writer\n    prompt: go\n    tools: [core.echo]\noutput: '${{ steps.ask.output.text }}'\n",
    )
    const r = await runCli(['run', 'tools.yaml'], { cwd, env: { E2E_VENDOR_KEY: 'sk-ant-e2e' } })
    expect(r.stderr).not.toContain('answered 400')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toBe('done with {"q":1}')
    expect((s.requests[0]!.body as { tools: { name: string }[] }).tools[0]!.name).toBe('core_echo')
  })

  it('a refused key fails the run at once with UNAUTHENTICATED naming the source; reading commands need no key', async () => {
    const s = await llm({ apiKey: 'the-right-key' })
    const cwd = await dirs.make()
    await writeFile(join(cwd, 'shiioo.toml'), source('main', 'openai', s, ['price_input_per_1m = 0.05']))
    await writeFile(join(cwd, 'one.yaml'), agents('one', 1))
    const started = Date.now()
    const r = await runCli(['run', 'one.yaml'], { cwd, env: { E2E_VENDOR_KEY: 'a-revoked-key' } })
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /UNAUTHENTICATED: no capacity source for "m" is in service: the vendor refused the key of main \(openai answered 401/,
    )
    expect(s.requests.filter((q) => q.outcome === 'unauthorized').length).toBeLessThanOrEqual(2)
    const logs = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(logs.find((l) => String(l.msg).includes('out of service'))).toMatchObject({ source: 'main', status: 401 })
    expect(r.stderr).not.toContain('a-revoked-key')

    // now a run with the right key, then the reading commands with no key at all
    const ok = await runCli(['run', 'one.yaml'], { cwd, env: { E2E_VENDOR_KEY: 'the-right-key' } })
    expect(ok.code).toBe(0)
    const costs = await runCli(['costs', '--by', 'source'], { cwd })
    expect(costs.stderr).not.toContain('E2E_VENDOR_KEY')
    expect(costs.code).toBe(0)
    // a fraction of a cent, shown as such rather than $0.0000
    expect(costs.stdout).toMatch(/^main\s+1\s+22\s+5\s+\$0\.0000011$/m)
    const runId = /^run (run_\w{26}) completed/m.exec(ok.stderr)?.[1]
    expect(runId).toBeDefined()
    const events = await runCli(['events', runId!], { cwd })
    expect(events.code).toBe(0)
  })

  it('two processes on one data dir run 20 agent steps against one rate-limited source: no 429, every step completed', async () => {
    // the vendor allows 12 requests a minute, and the pool is told exactly that
    const s = await llm({ apiKey: 'k', limits: { requestsPerMinute: 12, tokensPerMinute: 100_000 } })
    const cwd = await dirs.make()
    await writeFile(
      join(cwd, 'shiioo.toml'),
      source('shared', 'openai', s, ['requests_per_minute = 12', 'tokens_per_minute = 100000']),
    )
    // a 20 s timeout: the steps that wait a minute for the window must not time out
    await writeFile(join(cwd, 'a.yaml'), agents('a', 10, '    timeout: 20s\n'))
    await writeFile(join(cwd, 'b.yaml'), agents('b', 10, '    timeout: 20s\n'))
    const env = { E2E_VENDOR_KEY: 'k' }
    const [a, b] = await Promise.all([runCli(['run', 'a.yaml'], { cwd, env }), runCli(['run', 'b.yaml'], { cwd, env })])
    expect(a.stderr).not.toMatch(/failed/)
    expect(b.stderr).not.toMatch(/failed/)
    expect([a.code, b.code]).toEqual([0, 0])
    expect(s.stats().rateLimited).toBe(0)
    expect(s.stats().ok).toBe(20)
    expect(s.stats().peakRequestsPerMinute).toBeLessThanOrEqual(12)
    expect(a.stderr + b.stderr).toMatch(/waiting for capacity/)
  }, 150_000)
})
