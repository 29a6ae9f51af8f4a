import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LlmTestServer } from '@shiioo/testkit'
import { startLlmTestServer } from '@shiioo/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServeHandle } from './helpers.js'
import { assertBuilt, runCli, startServe, tempDirs } from './helpers.js'
import type { Json } from './server-clients.js'
import { adminToken, cliJson, rest, sseFor, wsClient } from './server-clients.js'

/**
 * An agent's text streams live as the vendor sends it: the real `shiioo serve` process, a
 * capacity source on the strict OpenAI stand-in that streams each reply in 6-character chunks 15 ms
 * apart, and subscribers over graphql-ws and SSE, and `shiioo run --server`, all seeing the text
 * before the turn is recorded; nothing of it is stored but the turn.
 */

const ADMIN = adminToken('agent-text')
const REPLY = 'Step one: write every change as an event. Step two: fold them. Step three: replay.'
const dirs = tempDirs()
let llm: LlmTestServer
let dataDir: string
let server: ServeHandle
let base: string

const WORKFLOW = `name: talker
steps:
  - id: speak
    kind: agent
    role: writer
    prompt: 'Explain durability in three steps.'
output: '\${{ steps.speak.output.text }}'
`
const AGENT_TEXT = `subscription($runId: ID) {
  agentText(runId: $runId) { runId stepId item attempt turn call source delta skipped }
}`

interface Delta {
  runId: string
  stepId: string
  turn: number
  call: number
  source: string
  delta: string
  skipped: number
}

beforeAll(async () => {
  assertBuilt()
  llm = await startLlmTestServer({
    apiKey: 'sk-text',
    streamChunkChars: 6,
    faults: { chunkDelayMs: 15, headerDelayMs: 300 },
    reply: () => ({ text: REPLY }),
  })
  dataDir = await dirs.make('shiioo-agent-text-')
  await writeFile(
    join(dataDir, 'shiioo.toml'),
    [
      '[[capacity.sources]]',
      'id = "main"',
      'provider = "openai"',
      `base_url = "${llm.openAiBaseUrl}"`,
      'api_key_env = "TEXT_LLM_KEY"',
      'models = ["gpt-test"]',
      '[roles.writer]',
      'system_prompt = "You write briefly."',
      'model = "gpt-test"',
    ].join('\n'),
  )
  await writeFile(join(dataDir, 'talker.yaml'), WORKFLOW)
  server = await startServe(['--port', '0'], {
    cwd: dataDir,
    env: { SHIIOO_DATA_DIR: dataDir, SHIIOO_ADMIN_TOKEN: ADMIN, SHIIOO_LOG_LEVEL: 'error', TEXT_LLM_KEY: 'sk-text' },
  })
  base = server.url
})

afterAll(async () => {
  await server?.stop()
  await llm?.close()
  await dirs.cleanup()
})

const start = () => rest(base, 'POST', '/api/runs', { token: ADMIN, body: { workflow: { text: WORKFLOW } } })

describe("an agent's live text", () => {
  it('reaches a graphql-ws subscriber piece by piece while the vendor streams, before the turn is recorded', async () => {
    const client = wsClient(base, ADMIN)
    try {
      const deltas: Array<Delta & { at: number }> = []
      const subscription = client.iterate({ query: AGENT_TEXT })
      // subscribed once the server answers a first ping on the same connection
      const first = subscription.next()
      await new Promise((r) => setTimeout(r, 300))
      const started = await start()
      expect(started.status).toBe(201)
      const runId = started.body.runId as string
      let next = await first
      while (!next.done) {
        expect(next.value.errors).toBeUndefined()
        const d = (next.value.data as { agentText: Delta }).agentText
        deltas.push({ ...d, at: Date.now() })
        if (deltas.map((x) => x.delta).join('') === REPLY) break
        next = await subscription.next()
      }
      await subscription.return?.()
      expect(deltas.length).toBeGreaterThanOrEqual(REPLY.length / 6 - 1)
      expect(new Set(deltas.map((d) => `${d.runId}/${d.stepId}/${d.turn}/${d.call}/${d.source}/${d.skipped}`))).toEqual(
        new Set([`${runId}/speak/1/1/main/0`]),
      )
      // live: the pieces came over time, as the vendor sent them (15 ms apart), not all at the end
      expect(deltas.at(-1)!.at - deltas[0]!.at).toBeGreaterThan(50)
      // the durable copy is the recorded turn, once, with the whole reply
      const run = await waitForStatus(runId, 'completed')
      expect(run.output).toEqual({ inline: REPLY })
      const events = await rest(base, 'GET', `/api/runs/${runId}/events`, { token: ADMIN })
      const types = (events.body.items as Array<{ type: string }>).map((e) => e.type)
      expect(types.filter((t) => t === 'agent.turn')).toHaveLength(1)
      const turn = (events.body.items as Array<{ type: string; at: string }>).find((e) => e.type === 'agent.turn')!
      expect(deltas[0]!.at).toBeLessThan(Date.parse(turn.at))
      expect(JSON.stringify(events.body)).not.toContain('agentText')
    } finally {
      await client.dispose()
    }
  })

  it('reaches an SSE subscriber of one run, and is refused for a run of another tenant as for an unknown one', async () => {
    await cliJson(dataDir, ['principal', 'create', 'other', '--role', 'admin', '--tenant', 'tenant-b'])
    const tokenB = (await cliJson(dataDir, ['token', 'create', 'other', '--tenant', 'tenant-b'])).token as string
    // another tenant listening to all of its runs' text meanwhile hears nothing of this one
    const tenantWideB = sseFor(base, tokenB, AGENT_TEXT, {}, 3_500)
    await new Promise((r) => setTimeout(r, 300))
    // the vendor waits 300 ms before it answers, so that the run's id is known before it speaks
    const started = await start()
    const runId = started.body.runId as string
    const sse = await sseFor(base, ADMIN, AGENT_TEXT, { runId }, 2_500)
    expect(sse.status).toBe(200)
    const said = [...sse.text.matchAll(/^data: (.*)$/gm)]
      .map((m) => JSON.parse(m[1]!) as { data?: { agentText: Delta } })
      .flatMap((r) => (r.data ? [r.data.agentText] : []))
    // subscribed after the start: the tail of the reply at least, in order, all of this run
    expect(said.length).toBeGreaterThan(0)
    expect(said.every((d) => d.runId === runId)).toBe(true)
    expect(REPLY.endsWith(said.map((d) => d.delta).join(''))).toBe(true)

    const heardB = await tenantWideB
    expect(heardB.status).toBe(200)
    expect(heardB.text).not.toContain('agentText')
    expect(heardB.text).not.toContain(runId)
    const foreign = await sseFor(base, tokenB, AGENT_TEXT, { runId }, 1_500)
    const unknown = await sseFor(base, tokenB, AGENT_TEXT, { runId: 'run_01ARZ3NDEKTSV4RRFFQ69G5FAV' }, 1_500)
    expect(foreign.text).toContain('NOT_FOUND')
    expect(foreign.text.split(runId).join('<run>')).toBe(
      unknown.text.split('run_01ARZ3NDEKTSV4RRFFQ69G5FAV').join('<run>'),
    )
    expect(foreign.text).not.toContain('Step one')
  })

  it('is printed by `shiioo run --server` under the step that says it', async () => {
    const r = await runCli(['run', 'talker.yaml', '--server', base], {
      cwd: dataDir,
      env: { SHIIOO_TOKEN: ADMIN },
    })
    expect(r.stderr).not.toMatch(/^error:/m)
    expect(r.code).toBe(0)
    const lines = r.stderr.split('\n')
    const started = lines.findIndex((l) => /speak started/.test(l))
    const says = lines.findIndex((l) => l.includes('speak says (turn 1): '))
    const turn = lines.findIndex((l) => /speak turn 1: gpt-test via main/.test(l))
    expect(started).toBeGreaterThanOrEqual(0)
    expect(says).toBeGreaterThan(started)
    expect(turn).toBeGreaterThan(says)
    expect(lines[says]!.split('speak says (turn 1): ')[1]).toBe(REPLY)
    expect(JSON.parse(r.stdout)).toBe(REPLY)

    const quiet = await runCli(['run', 'talker.yaml', '--server', base, '--no-agent-text'], {
      cwd: dataDir,
      env: { SHIIOO_TOKEN: ADMIN },
    })
    expect(quiet.code).toBe(0)
    expect(quiet.stderr).toMatch(/speak turn 1: gpt-test via main/)
    expect(quiet.stderr).not.toContain('says')
  })
})

async function waitForStatus(runId: string, status: string): Promise<Json> {
  for (let i = 0; i < 200; i++) {
    const run = await rest(base, 'GET', `/api/runs/${runId}`, { token: ADMIN })
    if (run.body.status === status) return run.body
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`run ${runId} did not become ${status}`)
}
