import type { ChatRequest, ChatResponse, Provider } from '@shiioo/capacity'
import { CapacityPool } from '@shiioo/capacity'
import type { StoredEvent, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT } from '@shiioo/core'
import { FakeClock } from '@shiioo/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { agentLoop, poolModel, toolInvoker } from '../../src/index.js'
import type { Harness } from './harness.js'
import { openHarness, workflow } from './harness.js'

const T: TenantId = DEFAULT_TENANT
let h: Harness
afterEach(async () => h?.close())

const instant: Provider = {
  kind: 'instant',
  chat: (r: ChatRequest): Promise<ChatResponse> =>
    Promise.resolve({
      text: 'done',
      toolCalls: [],
      stopReason: 'end',
      usage: { inputTokens: 5, outputTokens: 1 },
      model: r.model,
    }),
}

const pause = () => new Promise((r) => setTimeout(r, 5))

/** Moves the clock a second at a time, only once the run stopped changing (its work in flight is done). */
async function runToEnd(h: Harness, clock: FakeClock, runId: string, maxSteps = 400): Promise<StoredEvent[]> {
  let events: StoredEvent[] = []
  for (let i = 0, seen = -1; i < maxSteps; i++) {
    await pause()
    events = await h.events(runId as never)
    if (events.some((e) => e.type === 'run.completed' || e.type === 'run.failed')) break
    if (events.length === seen) clock.advance(1000)
    seen = events.length
  }
  return events
}

// Issue 13, item 6: a source at 1 request a minute and three agent steps with a 5 s timeout.
// Waiting in the pool is time to start, not time to finish: every step completes.
describe('engine: time waiting for capacity does not count against an attempt timeout', () => {
  it('three agent steps behind a 1-request-a-minute source all complete within their 5 s timeouts', async () => {
    const clock = new FakeClock()
    const pool = new CapacityPool({
      clock,
      windowSlackMs: 0,
      sources: [{ id: 'slow', provider: instant, models: ['m'], limits: { requestsPerMinute: 1 } }],
    })
    h = await openHarness({
      clock,
      agents: agentLoop({
        model: poolModel(pool),
        roles: { writer: { systemPrompt: 'You write.', model: 'm' } },
        tools: toolInvoker(),
        toolSpecs: {},
      }),
    })
    const step = (id: string) => ({
      id,
      kind: 'agent' as const,
      role: 'writer',
      prompt: id,
      timeout: '5s',
      retry: { maxAttempts: 1 },
    })
    const def = workflow({ name: 'slow-source', steps: [step('a'), step('b'), step('c')] })
    const { runId } = await h.engine.start({ definition: def })
    const events = await runToEnd(h, clock, runId)
    const end = await h.engine.wait(T, runId)
    pool.close()
    expect(end.error, JSON.stringify(end.error)).toBeNull()
    expect(end.status).toBe('completed')
    const queued = events.filter((e) => e.type === 'agent.queued').map((e) => (e.data as { state: string }).state)
    expect(queued.filter((s) => s === 'waiting')).toHaveLength(2)
    expect(queued.filter((s) => s === 'admitted')).toHaveLength(2)
  })

  it('an optional limit on the wait still fails a call that waits too long (UNAVAILABLE, retryable)', async () => {
    const clock = new FakeClock()
    const pool = new CapacityPool({
      clock,
      windowSlackMs: 0,
      maxWaitMs: 10_000,
      sources: [{ id: 'slow', provider: instant, models: ['m'], limits: { requestsPerMinute: 1 } }],
    })
    h = await openHarness({
      clock,
      agents: agentLoop({
        model: poolModel(pool),
        roles: { writer: { systemPrompt: 'You write.', model: 'm' } },
        tools: toolInvoker(),
        toolSpecs: {},
      }),
    })
    const step = (id: string) => ({ id, kind: 'agent' as const, role: 'writer', prompt: id, retry: { maxAttempts: 1 } })
    const def = workflow({ name: 'wait-limit', steps: [step('a'), step('b')] })
    const { runId } = await h.engine.start({ definition: def })
    await runToEnd(h, clock, runId)
    const end = await h.engine.wait(T, runId)
    pool.close()
    expect(end.status).toBe('failed')
    expect(end.error?.message).toContain('no capacity for "m" within 10000 ms')
  })

  it('an attempt re-performed after a restart while it waited has its wait closed, and its timeout runs again', async () => {
    const clock = new FakeClock()
    const agentsOn = (pool: CapacityPool) =>
      agentLoop({
        model: poolModel(pool),
        roles: { writer: { systemPrompt: 'You write.', model: 'm' } },
        tools: toolInvoker(),
        toolSpecs: {},
      })
    const slowPool = () =>
      new CapacityPool({
        clock,
        windowSlackMs: 0,
        sources: [{ id: 'slow', provider: instant, models: ['m'], limits: { requestsPerMinute: 1 } }],
      })
    const first = slowPool()
    h = await openHarness({ clock, agents: agentsOn(first) })
    const step = (id: string) => ({
      id,
      kind: 'agent' as const,
      role: 'writer',
      prompt: id,
      timeout: '5s',
      retry: { maxAttempts: 1 },
    })
    const { runId } = await h.engine.start({
      definition: workflow({ name: 'restart-wait', steps: [step('a'), step('b')] }),
    })
    for (let i = 0; i < 100; i++) {
      await pause()
      const es = await h.events(runId)
      if (es.some((e) => e.type === 'agent.queued') && es.some((e) => e.type === 'step.completed')) break
    }
    // the new process's pool has capacity at once: its call is admitted without a word
    const second = slowPool()
    await h.restart({ agents: agentsOn(second) })
    first.close()
    // waiting on the run after a restart takes it over and performs its open attempt again
    const ending = h.engine.wait(T, runId)
    const events = await runToEnd(h, clock, runId)
    second.close()
    const end = await ending
    expect(end.error, JSON.stringify(end.error)).toBeNull()
    expect(end.status).toBe('completed')
    const queued = events.filter((e) => e.type === 'agent.queued').map((e) => (e.data as { state: string }).state)
    expect(queued).toEqual(['waiting', 'admitted'])
  })
})
