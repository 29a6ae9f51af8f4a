import { afterEach, describe, expect, it } from 'vitest'
import type { TenantId } from '@shiioo/core'
import { encodePosition } from '@shiioo/core'
import type { CallerContext, LiveBatch, LiveEventView, LiveRequest, Orchestrator } from '../src/index.js'
import { localCaller } from '../src/index.js'
import { eventOf, example, testStacks, waitsForApproval } from './stack.js'

const alice: CallerContext = localCaller('alice')
const mallory: CallerContext = localCaller('mallory', 'other' as TenantId)
const echo = { definition: { name: 'echo', steps: [{ id: 'say', kind: 'tool', tool: 'core.echo' }] } }
const stacks = testStacks()
afterEach(() => stacks.cleanup())

/** Subscribes and reads until `enough` says so (or the feed has nothing more for `quietMs`), then stops. */
async function take(
  o: Orchestrator,
  caller: CallerContext,
  request: LiveRequest,
  enough: (seen: LiveEventView[]) => boolean,
): Promise<LiveEventView[]> {
  const stop = new AbortController()
  const seen: LiveEventView[] = []
  const batches: AsyncIterable<LiveBatch> = await o.live.subscribe(caller, request, stop.signal)
  try {
    for await (const batch of batches) {
      seen.push(...batch)
      if (enough(seen)) break
    }
  } finally {
    stop.abort()
  }
  return seen
}

const hasType = (type: string) => (seen: LiveEventView[]) => seen.some((e) => e.event.type === type)

describe('the live service', () => {
  it('delivers one run, all runs, or the audit chain of the caller tenant, with positions in order', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const gated = await o.runs.start(alice, { source: await example('approval-gate'), input: { version: '1.0' } })
    await eventOf(o, alice, gated.runId, waitsForApproval)
    const other = await o.runs.start(alice, { source: echo })
    await o.runs.wait(alice, other.runId)

    const one = await take(o, alice, { scope: { kind: 'run', runId: gated.runId }, after: 'start' }, (seen) =>
      seen.some((e) => e.event.type === 'step.waiting'),
    )
    expect(new Set(one.map((e) => e.runId))).toEqual(new Set([gated.runId]))
    expect(one.map((e) => e.event.seq)).toEqual(one.map((_, i) => i + 1))
    expect(one[0]!.event).toMatchObject({ type: 'run.started', stream: gated.runId, tenant: 'default' })
    const positions = one.map((e) => e.position)
    expect([...positions].sort()).toEqual(positions)

    const all = await take(o, alice, { scope: { kind: 'runs' }, after: 'start' }, (seen) =>
      seen.some((e) => e.runId === other.runId && e.event.type === 'run.completed'),
    )
    expect(new Set(all.map((e) => e.runId))).toEqual(new Set([gated.runId, other.runId]))
    expect(all.every((e) => e.event.stream === e.runId)).toBe(true)

    const audit = await take(o, alice, { scope: { kind: 'audit' }, after: 'start' }, (seen) => seen.length >= 4)
    expect(audit.map((e) => [e.runId, e.event.type, e.event.stream])).toEqual([
      [null, 'audit.recorded', 'audit'],
      [null, 'audit.recorded', 'audit'],
      [null, 'audit.recorded', 'audit'],
      [null, 'audit.recorded', 'audit'],
    ])
    expect(audit.map((e) => e.event.type === 'audit.recorded' && e.event.data.action)).toEqual([
      'run.start',
      'run.start',
      'tool.invoke',
      'run.drive',
    ])

    const waits = await take(
      o,
      alice,
      { scope: { kind: 'runs' }, types: ['step.waiting'], after: 'start' },
      (seen) => seen.length >= 1,
    )
    expect(waits.map((e) => [e.runId, e.event.type])).toEqual([[gated.runId, 'step.waiting']])
    const approvals = await take(o, alice, { scope: { kind: 'approvals' }, after: 'start' }, (seen) => seen.length >= 1)
    expect(approvals.map((e) => [e.runId, e.event.type, e.event.type === 'step.waiting' && e.event.data.for])).toEqual([
      [gated.runId, 'step.waiting', 'approval'],
    ])
  })

  it('delivers what is appended live, and resumes after a position with no gap and no duplicate', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const gated = await o.runs.start(alice, { source: await example('approval-gate'), input: { version: '2.0' } })
    const scope = { kind: 'run', runId: gated.runId } as const
    const before = await take(o, alice, { scope, after: 'start' }, hasType('step.waiting'))
    const resumeAfter = before[1]!.position

    // live: subscribed now, the decision and the run's end arrive as they become durable
    const live = take(o, alice, { scope, after: 'now' }, hasType('run.completed'))
    await new Promise((r) => setTimeout(r, 50))
    await o.runs.decide(alice, gated.runId, { stepId: 'review', decision: 'approve', comment: 'ship it' })
    const after = await live
    expect(after[0]!.event).toMatchObject({ type: 'approval.decided', data: { comment: 'ship it' } })
    expect(after.at(-1)!.event.type).toBe('run.completed')

    const resumed = await take(o, alice, { scope, after: resumeAfter }, hasType('run.completed'))
    const whole = await o.runs.events(alice, gated.runId)
    expect(resumed.map((e) => e.event.seq)).toEqual(whole.slice(2).map((e) => e.seq))
    expect(resumed.map((e) => e.event.id)).toEqual(whole.slice(2).map((e) => e.id))
  })

  it("keeps tenants apart: another tenant's run is NOT_FOUND, its listing and audit show nothing of ours", async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const ours = await o.runs.start(alice, { source: echo })
    await o.runs.wait(alice, ours.runId)
    await expect(
      o.live.subscribe(mallory, { scope: { kind: 'run', runId: ours.runId } }, new AbortController().signal),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })

    const theirs = await o.runs.start(mallory, { source: echo })
    await o.runs.wait(mallory, theirs.runId)
    const runs = await take(o, mallory, { scope: { kind: 'runs' }, after: 'start' }, hasType('run.completed'))
    expect(new Set(runs.map((e) => e.runId))).toEqual(new Set([theirs.runId]))
    expect(runs.every((e) => e.event.tenant === 'other')).toBe(true)
    const audit = await take(o, mallory, { scope: { kind: 'audit' }, after: 'start' }, (s) => s.length >= 2)
    expect(audit.every((e) => e.event.tenant === 'other')).toBe(true)
  })

  it('refuses a malformed position (INVALID_INPUT), one the feed does not hold (GONE), and bad filters', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const started = await o.runs.start(alice, { source: echo })
    await o.runs.wait(alice, started.runId)
    const scope = { kind: 'runs' } as const
    await expect(take(o, alice, { scope, after: 'yesterday' }, () => true)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      details: { field: 'after' },
    })
    await expect(take(o, alice, { scope, after: encodePosition(1, 99_999, 7) }, () => true)).rejects.toMatchObject({
      code: 'GONE',
    })
    await expect(take(o, alice, { scope, types: ['run.exploded'] }, () => true)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      details: { field: 'types[0]' },
    })
    await expect(take(o, alice, { scope: { kind: 'run', runId: 'run_nope' } }, () => true)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
  })

  it('names its action to the gate: run.read, run.list, approval.list, audit.list', async () => {
    const asked: string[] = []
    const { orchestrator: o } = stacks.open(await stacks.tempDir(), {
      gate: (_caller, action, resource) => void asked.push(`${action}:${resource.kind}`),
    })
    const started = await o.runs.start(alice, { source: echo })
    await o.runs.wait(alice, started.runId)
    asked.length = 0
    const signal = new AbortController().signal
    await o.live.subscribe(alice, { scope: { kind: 'run', runId: started.runId } }, signal)
    await o.live.subscribe(alice, { scope: { kind: 'runs' } }, signal)
    await o.live.subscribe(alice, { scope: { kind: 'approvals' } }, signal)
    await o.live.subscribe(alice, { scope: { kind: 'audit' } }, signal)
    expect(asked).toEqual(['run.read:run', 'run.list:tenant', 'approval.list:tenant', 'audit.list:tenant'])
  })
})
