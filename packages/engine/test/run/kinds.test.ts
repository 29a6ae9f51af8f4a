import type { Json, RunId, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, ShiiooError } from '@shiioo/core'
import { FakeClock } from '@shiioo/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import type { ToolRequest } from '../../src/index.js'
import { toolInvoker } from '../../src/index.js'
import type { Harness } from './harness.js'
import { openHarness, types, workflow } from './harness.js'

const T: TenantId = DEFAULT_TENANT
let h: Harness
afterEach(async () => h?.close())

/** Lets the engine's promise chains and file appends run. */
async function settle(ms = 30): Promise<void> {
  await new Promise((r) => setTimeout(r, ms))
}

async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await what()
    if (ok(v)) return v
    if (Date.now() > end) throw new Error(`condition not met in ${ms}ms: ${JSON.stringify(v)}`)
    await settle(10)
  }
}

describe('engine: step kinds and control flow', () => {
  it('fans out with foreach under maxParallel and collects the outputs in item order', async () => {
    let active = 0
    let peak = 0
    h = await openHarness({
      tools: toolInvoker({
        'test.slow': async (r: ToolRequest) => {
          active++
          peak = Math.max(peak, active)
          await settle(5 + (3 - (r.item ?? 0)) * 5)
          active--
          return { n: (r.input as { n: number }).n * 10 }
        },
      }),
    })
    const def = workflow({
      name: 'fan',
      steps: [
        { id: 'list', kind: 'transform', output: '${{ [1, 2, 3, 4, 5] }}' },
        {
          id: 'each',
          kind: 'foreach',
          needs: ['list'],
          items: 'steps.list.output',
          maxParallel: 2,
          step: { kind: 'tool', tool: 'test.slow', input: { n: '${{ item }}' } },
        },
      ],
      output: '${{ steps.each.output.map(x, x.n) }}',
    })
    const { runId } = await h.engine.start({ definition: def })
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('completed')
    expect(end.output).toEqual({ inline: [10, 20, 30, 40, 50] })
    expect(peak).toBe(2)
    const keys = (await h.events(runId)).flatMap((e) =>
      e.type === 'step.started' && e.data.item !== undefined ? [e.data.idempotencyKey] : [],
    )
    expect(keys).toContain(`${runId}:each[4]:1`)
  })

  it('skips a false `when` and its dependents, fails the run naming the failed step, and finishes the other branch', async () => {
    const calls: string[] = []
    h = await openHarness({
      tools: toolInvoker({
        'test.ok': (r) => (calls.push(r.stepId), { ok: true }),
        'test.broken': () => {
          throw new ShiiooError('FORBIDDEN', 'no access to the vault')
        },
      }),
    })
    const def = workflow({
      name: 'branches',
      inputs: { go: { type: 'boolean', default: false } },
      steps: [
        { id: 'gate', kind: 'tool', tool: 'test.ok', when: 'inputs.go' },
        { id: 'after_gate', kind: 'tool', tool: 'test.ok', needs: ['gate'] },
        { id: 'broken', kind: 'tool', tool: 'test.broken' },
        { id: 'after_broken', kind: 'tool', tool: 'test.ok', needs: ['broken'] },
        { id: 'independent', kind: 'tool', tool: 'test.ok' },
      ],
    })
    const { runId } = await h.engine.start({ definition: def })
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('failed')
    expect(end.failedStep).toBe('broken')
    expect(end.error).toMatchObject({ code: 'FORBIDDEN', message: 'no access to the vault' })
    expect(end.steps.gate!.skipReason).toBe('when `inputs.go` is false')
    expect(end.steps.after_gate!.skipReason).toBe('needs gate, which was skipped')
    expect(end.steps.after_broken!.skipReason).toBe('needs broken, which failed')
    expect(calls).toEqual(['independent'])
  })

  it('retries retryable failures with backoff on the clock, and not others', async () => {
    const clock = new FakeClock()
    let n = 0
    h = await openHarness({
      clock,
      random: () => 0.5,
      tools: toolInvoker({
        'test.flaky': (r) => {
          n++
          if (r.attempt < 3) throw new ShiiooError('UNAVAILABLE', `upstream 503 (attempt ${r.attempt})`)
          return { attempt: r.attempt, key: r.idempotencyKey }
        },
      }),
    })
    const def = workflow({
      name: 'retry',
      steps: [
        {
          id: 'call',
          kind: 'tool',
          tool: 'test.flaky',
          retry: { maxAttempts: 3, backoff: { initial: '1s', factor: 2 } },
        },
      ],
    })
    const { runId } = await h.engine.start({ definition: def })
    const failed1 = await until(
      () => h.events(runId),
      (es) => es.some((e) => e.type === 'step.failed'),
    )
    expect(failed1.at(-1)!.data).toMatchObject({ willRetry: true, retryAt: new Date(clock.now() + 1000).toISOString() })
    clock.advance(999)
    await settle()
    expect(n).toBe(1)
    clock.advance(1)
    await until(
      () => h.events(runId),
      (es) => es.filter((e) => e.type === 'step.failed').length === 2,
    )
    clock.advance(2000)
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('completed')
    expect(n).toBe(3)
    expect(end.steps.call!.output).toEqual({ inline: { attempt: 3, key: `${runId}:call:3` } })
  })

  it('times out an attempt that runs too long, aborting it', async () => {
    const clock = new FakeClock()
    let aborted = 0
    h = await openHarness({
      clock,
      tools: toolInvoker({
        'test.hang': (r) =>
          new Promise((_, reject) => {
            r.signal.addEventListener('abort', () => {
              aborted++
              reject(r.signal.reason as Error)
            })
          }),
      }),
    })
    const def = workflow({ name: 'timeout', steps: [{ id: 'hang', kind: 'tool', tool: 'test.hang', timeout: '5s' }] })
    const { runId } = await h.engine.start({ definition: def })
    await until(
      () => h.events(runId),
      (es) => es.some((e) => e.type === 'step.started'),
    )
    clock.advance(5000)
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('failed')
    expect(end.error).toMatchObject({ code: 'TIMEOUT', message: 'attempt 1 timed out after 5000ms' })
    expect(aborted).toBe(1)
  })

  it('takes an approval decision that arrived before the approval step waited, and refuses a second one', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    h = await openHarness({ tools: toolInvoker({ 'test.gate': async () => (await gate, { drafted: true }) }) })
    const def = workflow({
      name: 'approve',
      steps: [
        { id: 'draft', kind: 'tool', tool: 'test.gate' },
        { id: 'review', kind: 'approval', needs: ['draft'], prompt: 'Ship it? ${{ steps.draft.output.drafted }}' },
        { id: 'ship', kind: 'transform', needs: ['review'], output: '${{ steps.review.output.by }}' },
      ],
      output: '${{ steps.ship.output }}',
    })
    const { runId } = await h.engine.start({ definition: def })
    const alice = { kind: 'user' as const, id: 'alice' }
    await h.engine.signal(T, runId, { kind: 'decision', stepId: 'review', decision: 'approve', comment: 'go' }, alice)
    await expect(
      h.engine.signal(T, runId, { kind: 'decision', stepId: 'review', decision: 'reject' }, alice),
    ).rejects.toThrow(/already decided \(approve by alice\)/)
    await expect(
      h.engine.signal(T, runId, { kind: 'decision', stepId: 'draft', decision: 'approve' }, alice),
    ).rejects.toThrow(/is a tool step, not an approval; approval steps: review/)
    await expect(
      h.engine.signal(T, runId, { kind: 'decision', stepId: 'nope', decision: 'approve' }, alice),
    ).rejects.toThrow(/no step "nope"/)
    release()
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('completed')
    expect(end.output).toEqual({ inline: 'alice' })
    const waiting = (await h.events(runId)).find((e) => e.type === 'step.waiting')
    expect(waiting?.data).toMatchObject({ for: 'approval', prompt: 'Ship it? true' })
    await expect(h.engine.signal(T, runId, { kind: 'pause' }, alice)).rejects.toThrow(/already completed/)
  })

  it('fails the run when an approver rejects', async () => {
    h = await openHarness()
    const def = workflow({
      name: 'reject',
      steps: [
        { id: 'ok', kind: 'approval', prompt: 'Deploy?' },
        { id: 'deploy', kind: 'transform', needs: ['ok'], output: 1 },
      ],
    })
    const { runId } = await h.engine.start({ definition: def })
    await h.engine.signal(
      T,
      runId,
      { kind: 'decision', stepId: 'ok', decision: 'reject', comment: 'not on a Friday' },
      { kind: 'user', id: 'bob' },
    )
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('failed')
    expect(end.error).toEqual({ code: 'REJECTED', message: 'rejected by user:bob: not on a Friday', retryable: false })
    expect(end.steps.deploy!.status).toBe('skipped')
  })

  it('keeps a durable timer across a restart and fires it at its recorded time', async () => {
    const clock = new FakeClock()
    h = await openHarness({ clock })
    const def = workflow({
      name: 'timer',
      steps: [
        { id: 'nap', kind: 'wait', duration: '1h' },
        { id: 'after', kind: 'transform', needs: ['nap'], output: '${{ steps.nap.output.firedAt }}' },
      ],
      output: '${{ steps.after.output }}',
    })
    const started = clock.now()
    const { runId } = await h.engine.start({ definition: def })
    await until(
      () => h.events(runId),
      (es) => es.some((e) => e.type === 'step.waiting'),
    )
    clock.advance(30 * 60_000)
    await h.restart()
    const resumed = await h.engine.resume(T, runId)
    expect(resumed.status).toBe('running')
    clock.advance(30 * 60_000 - 1)
    await settle()
    expect((await h.engine.state(T, runId)).steps.nap!.status).toBe('waiting')
    clock.advance(1)
    const end = await h.engine.wait(T, runId)
    expect(end.output).toEqual({ inline: new Date(started + 3_600_000).toISOString() })
  })

  it('matches an external event sent before the wait began, choosing by `match`', async () => {
    h = await openHarness()
    const def = workflow({
      name: 'events',
      steps: [
        { id: 'first', kind: 'approval', prompt: 'hold' },
        {
          id: 'deployed',
          kind: 'wait',
          needs: ['first'],
          event: { name: 'deploy.finished', match: "event.env == 'prod'" },
        },
      ],
      output: '${{ steps.deployed.output.payload.version }}',
    })
    const { runId } = await h.engine.start({ definition: def })
    const ci = { kind: 'service' as const, id: 'ci' }
    await h.engine.signal(
      T,
      runId,
      { kind: 'event', name: 'deploy.finished', payload: { env: 'staging', version: 'v1' } },
      ci,
    )
    await h.engine.signal(
      T,
      runId,
      { kind: 'event', name: 'deploy.finished', payload: { env: 'prod', version: 'v2' } },
      ci,
    )
    await h.engine.signal(T, runId, { kind: 'decision', stepId: 'first', decision: 'approve' }, ci)
    const end = await h.engine.wait(T, runId)
    expect(end.output).toEqual({ inline: 'v2' })
  })

  it('runs a sub-workflow as a child run and takes its output', async () => {
    h = await openHarness()
    const child = workflow({
      name: 'child',
      inputs: { text: { type: 'string', required: true } },
      steps: [{ id: 'shout', kind: 'transform', output: '${{ inputs.text.upperAscii() }}' }],
      output: '${{ steps.shout.output }}',
    })
    await h.engine.definitions.register(T, child)
    const parent = workflow({
      name: 'parent',
      steps: [{ id: 'sub', kind: 'subworkflow', workflow: 'child', input: { text: 'hello' } }],
      output: '${{ steps.sub.output }}',
    })
    const { runId } = await h.engine.start({ definition: parent })
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('completed')
    expect(end.output).toEqual({ inline: 'HELLO' })
    const childId = end.steps.sub!.wait!.childRunId as RunId
    const childState = await h.engine.state(T, childId)
    expect(childState.parent).toEqual({ runId, stepId: 'sub' })
    expect(childState.idempotencyKey).toBe(`${runId}:sub:1`)
  })

  it('cancels a run and aborts its in-flight attempt; pause holds new starts until resume', async () => {
    let aborted = false
    h = await openHarness({
      tools: toolInvoker({
        'test.hang': (r) =>
          new Promise((_, reject) =>
            r.signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted')))),
          ),
      }),
    })
    const def = workflow({
      name: 'cancel',
      steps: [
        { id: 'hang', kind: 'tool', tool: 'test.hang' },
        { id: 'next', kind: 'transform', needs: ['hang'], output: 1 },
      ],
    })
    const { runId } = await h.engine.start({ definition: def })
    await until(
      () => h.events(runId),
      (es) => es.some((e) => e.type === 'step.started'),
    )
    await h.engine.cancel(T, runId, 'operator said stop', { kind: 'user', id: 'ops' })
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('cancelled')
    expect(end.cancelReason).toBe('operator said stop')
    await settle()
    expect(aborted).toBe(true)

    const two = workflow({
      name: 'pause',
      steps: [
        { id: 'a', kind: 'approval', prompt: 'a?' },
        { id: 'b', kind: 'transform', needs: ['a'], output: 2 },
      ],
    })
    const run2 = await h.engine.start({ definition: two })
    await h.engine.signal(T, run2.runId, { kind: 'pause', reason: 'maintenance' }, { kind: 'user', id: 'ops' })
    await h.engine.signal(
      T,
      run2.runId,
      { kind: 'decision', stepId: 'a', decision: 'approve' },
      { kind: 'user', id: 'ops' },
    )
    await settle(50)
    const paused = await h.engine.state(T, run2.runId)
    expect(paused.status).toBe('paused')
    expect(paused.steps.b).toBeUndefined()
    await h.engine.signal(T, run2.runId, { kind: 'resume' }, { kind: 'user', id: 'ops' })
    expect((await h.engine.wait(T, run2.runId)).status).toBe('completed')
  })

  it('returns the same run for the same idempotency key and input, and refuses other input', async () => {
    h = await openHarness()
    const def = workflow({
      name: 'idem',
      inputs: { n: { type: 'number', default: 1 } },
      steps: [{ id: 'a', kind: 'transform', output: '${{ inputs.n }}' }],
    })
    const a = await h.engine.start({ definition: def, input: { n: 1 }, idempotencyKey: 'nightly-2026-11-24' })
    const b = await h.engine.start({ definition: def, idempotencyKey: 'nightly-2026-11-24' })
    expect(b).toEqual({ ...a, duplicate: true })
    await expect(
      h.engine.start({ definition: def, input: { n: 2 }, idempotencyKey: 'nightly-2026-11-24' }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(`was used for run ${a.runId} with a different workflow or input`) as string,
    })
  })

  it('refuses bad input before writing anything', async () => {
    h = await openHarness()
    const def = workflow({
      name: 'inputs',
      inputs: { topic: { type: 'string', required: true } },
      steps: [{ id: 'a', kind: 'transform', output: 1 }],
    })
    await expect(h.engine.start({ definition: def, input: { topik: 'x' } })).rejects.toThrow(
      /(?=[\s\S]*input "topik" is not declared \(did you mean "topic"\?\))(?=[\s\S]*input "topic" is required)/,
    )
    const streams = []
    for await (const s of h.log.listStreams({ kind: 'run' })) streams.push(s)
    expect(streams).toEqual([])
  })

  it('keeps large outputs in blobs and still feeds them forward', async () => {
    h = await openHarness()
    const big = 'x'.repeat(20_000)
    const def = workflow({
      name: 'big',
      inputs: { text: { type: 'string', required: true } },
      steps: [
        { id: 'a', kind: 'transform', output: { text: '${{ inputs.text }}' } },
        { id: 'b', kind: 'transform', needs: ['a'], output: '${{ size(steps.a.output.text) }}' },
      ],
      output: '${{ steps.b.output }}',
    })
    const { runId } = await h.engine.start({ definition: def, input: { text: big } })
    const end = await h.engine.wait(T, runId)
    expect(end.output).toEqual({ inline: 20_000 })
    const events = await h.events(runId)
    expect(events[0]!.data).toMatchObject({ input: { blob: expect.stringMatching(/^[0-9a-f]{64}$/) as string } })
    const completedA = events.find((e) => e.type === 'step.completed' && e.data.stepId === 'a')
    expect((completedA?.data as { output: Json }).output).toMatchObject({
      size: 20_011,
      contentType: 'application/json',
    })
    expect(types(events).at(-1)).toBe('run.completed')
  })
})
