import type { RunId, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, ShiiooError } from '@shiioo/core'
import { afterEach, describe, expect, it } from 'vitest'
import { replayRun, toolInvoker } from '../../src/index.js'
import type { Harness } from './harness.js'
import { openHarness, types, workflow } from './harness.js'

const T: TenantId = DEFAULT_TENANT
let h: Harness
afterEach(async () => h?.close())

const pipeline = workflow({
  name: 'inspect',
  inputs: { items: { type: 'array', default: [1, 2, 3] } },
  steps: [
    {
      id: 'fetch',
      kind: 'tool',
      tool: 'test.count',
      input: { what: 'fetch' },
      retry: { maxAttempts: 2, backoff: { initial: 0 } },
    },
    {
      id: 'each',
      kind: 'foreach',
      needs: ['fetch'],
      items: 'inputs.items',
      step: { kind: 'tool', tool: 'test.count', input: { what: '${{ item }}' } },
    },
    { id: 'review', kind: 'approval', needs: ['each'], prompt: 'ok?' },
    {
      id: 'write',
      kind: 'agent',
      needs: ['review'],
      role: 'writer',
      prompt: 'Write ${{ size(steps.each.output) }} lines',
    },
    { id: 'publish', kind: 'tool', needs: ['write'], tool: 'test.count', input: { what: 'publish' } },
  ],
  output: '${{ steps.publish.output }}',
})

function countingTools(calls: string[]) {
  let fetches = 0
  return toolInvoker({
    'test.count': (r) => {
      const what = String((r.input as { what: unknown }).what)
      calls.push(what)
      if (what === 'fetch' && fetches++ === 0) throw new ShiiooError('UNAVAILABLE', 'flaky')
      return { what, n: calls.length }
    },
  })
}

async function finishedRun(calls: string[]): Promise<RunId> {
  const { runId } = await h.engine.start({ definition: pipeline })
  await h.engine.signal(
    T,
    runId,
    { kind: 'decision', stepId: 'review', decision: 'approve' },
    { kind: 'user', id: 'ann' },
  )
  const end = await h.engine.wait(T, runId)
  expect(end.status).toBe('completed')
  expect(calls.length).toBe(6)
  return runId
}

describe('engine: inspection', () => {
  it('replays a finished run from its log without calling anything and reaches the same end', async () => {
    const calls: string[] = []
    h = await openHarness({ tools: countingTools(calls) })
    const runId = await finishedRun(calls)
    const report = await h.engine.replay(T, runId)
    expect(report).toMatchObject({
      ok: true,
      status: 'completed',
      replayedStatus: 'completed',
      mismatches: [],
      calls: 0,
    })
    expect(calls.length).toBe(6)
  })

  it('replay names each decision the log has that the scheduler would not make', async () => {
    const calls: string[] = []
    h = await openHarness({ tools: countingTools(calls) })
    const runId = await finishedRun(calls)
    const events = await h.events(runId)
    // a forged log: the agent was asked something other than what the definition renders
    const forged = events.map((e) =>
      e.type === 'step.started' && e.data.stepId === 'write'
        ? { ...e, data: { ...e.data, input: { inline: 'Write 2 lines' } } }
        : e,
    )
    const compiled = await h.engine.definitions.get(
      T,
      (events[0]!.data as { workflow: { hash: string } }).workflow.hash,
    )
    const report = await replayRun(forged, compiled, h.blobs)
    expect(report.ok).toBe(false)
    expect(report.mismatches).toHaveLength(1)
    expect(report.mismatches[0]).toMatch(
      /^step write: the log has "started #1 input [0-9a-f]{16}", the replay "started #1 input [0-9a-f]{16}"$/,
    )
    await expect(h.engine.replay(T, (await h.engine.start({ definition: pipeline })).runId)).rejects.toThrow(
      /is running; replay needs a finished run/,
    )
  })

  it('forks from a step: earlier outputs are reused, the step and what follows run again', async () => {
    const calls: string[] = []
    h = await openHarness({ tools: countingTools(calls) })
    const runId = await finishedRun(calls)
    calls.length = 0
    const fork = await h.engine.fork(T, runId, { fromStep: 'write' })
    const end = await h.engine.wait(T, fork.runId)
    expect(end.status).toBe('completed')
    expect(end.forkOf).toEqual({ runId, fromStep: 'write' })
    expect(calls).toEqual(['publish'])
    expect(end.steps.fetch!.reusedFrom).toBe(runId)
    expect(end.steps.review!.reusedFrom).toBe(runId)
    expect(end.steps.write!.reusedFrom).toBeNull()
    const source = await h.engine.state(T, runId)
    expect(end.steps.each!.output).toEqual(source.steps.each!.output)
    await expect(h.engine.fork(T, runId, { fromStep: 'nope' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/has no step "nope"; steps: fetch, each, review, write, publish$/) as string,
    })
  })

  it('shows a run as of any event (time travel)', async () => {
    const calls: string[] = []
    h = await openHarness({ tools: countingTools(calls) })
    const runId = await finishedRun(calls)
    const events = await h.events(runId)
    const firstFail = events.find((e) => e.type === 'step.failed')!.seq
    const then = await h.engine.state(T, runId, firstFail)
    expect(then.version).toBe(firstFail)
    expect(then.status).toBe('running')
    expect(then.steps.fetch).toMatchObject({ status: 'retrying', attempt: 1, error: { code: 'UNAVAILABLE' } })
    expect(then.steps.each).toBeUndefined()
    const waiting = events.find((e) => e.type === 'step.waiting')!.seq
    expect((await h.engine.state(T, runId, waiting)).steps.review!.status).toBe('waiting')
    expect((await h.engine.state(T, runId)).status).toBe('completed')
  })

  it('resumes an in-flight attempt after a restart with the same idempotency key', async () => {
    const keys: string[] = []
    h = await openHarness({
      tools: toolInvoker({ 'test.hang': (r) => (keys.push(r.idempotencyKey), new Promise(() => undefined)) }),
    })
    const def = workflow({
      name: 'resume',
      steps: [
        { id: 'call', kind: 'tool', tool: 'test.hang' },
        { id: 'after', kind: 'transform', needs: ['call'], output: '${{ steps.call.output }}' },
      ],
      output: '${{ steps.after.output }}',
    })
    const { runId } = await h.engine.start({ definition: def })
    while (keys.length === 0) await new Promise((r) => setTimeout(r, 5))
    await h.restart({ tools: toolInvoker({ 'test.hang': (r) => (keys.push(r.idempotencyKey), { done: r.attempt }) }) })
    const end = await h.engine.wait(T, runId)
    expect(end.output).toEqual({ inline: { done: 1 } })
    expect(keys).toEqual([`${runId}:call:1`, `${runId}:call:1`])
    expect(types(await h.events(runId)).filter((t) => t === 'step.started:call')).toHaveLength(1)
  })
})
