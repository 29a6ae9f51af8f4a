import { afterEach, describe, expect, it } from 'vitest'
import type { PendingApprovalView } from '../src/index.js'
import { localCaller } from '../src/index.js'
import { eventOf, example, testStacks, waitsForApproval } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const alice = localCaller('alice')
const acme = localCaller('alice', 'acme' as never)

/** A foreach of two approval items, each asking about its item. */
const BOARD = {
  definition: {
    name: 'board',
    steps: [
      {
        id: 'sign',
        kind: 'foreach',
        items: '["legal", "security"]',
        step: { kind: 'approval', prompt: 'Sign off for ${{ item }}?' },
      },
    ],
  },
}

describe('approvals.pending', () => {
  it('lists the approval steps and foreach items that wait, with their prompts, in the caller’s tenant only', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const gate = await o.runs.start(alice, { source: await example('approval-gate'), input: { version: '2.1' } })
    const board = await o.runs.start(alice, { source: BOARD })
    await eventOf(o, alice, gate.runId, waitsForApproval)
    await eventOf(o, alice, board.runId, (e) => e.type === 'step.waiting' && e.data.item === 1)

    const { items, nextCursor } = await o.approvals.pending(alice)
    expect(nextCursor).toBeNull()
    const byRun = (runId: string) => items.filter((a: PendingApprovalView) => a.runId === runId)
    expect(byRun(gate.runId)).toEqual([
      expect.objectContaining({
        stepId: 'review',
        item: null,
        workflow: expect.objectContaining({ name: 'approval-gate' }),
      }),
    ])
    expect(byRun(gate.runId)[0]!.prompt).toMatch(/^Publish these release notes for 2\.1\?/)
    expect(byRun(board.runId).map((a) => [a.stepId, a.item, a.prompt])).toEqual([
      ['sign', 0, 'Sign off for legal?'],
      ['sign', 1, 'Sign off for security?'],
    ])
    expect((await o.approvals.pending(alice, { workflow: 'board' })).items).toHaveLength(2)
    expect((await o.approvals.pending(acme)).items).toEqual([])

    // one run a page: the next page holds the other run's approvals
    const first = await o.approvals.pending(alice, { limit: 1 })
    expect(first.nextCursor).not.toBeNull()
    const second = await o.approvals.pending(alice, { limit: 1, cursor: first.nextCursor! })
    expect(new Set([...first.items, ...second.items].map((a) => a.runId))).toEqual(new Set([gate.runId, board.runId]))

    await o.runs.decide(alice, board.runId, { stepId: 'sign', item: 0, decision: 'approve' })
    await eventOf(o, alice, board.runId, (e) => e.type === 'step.completed' && e.data.item === 0)
    expect((await o.approvals.pending(alice, { workflow: 'board' })).items.map((a) => a.item)).toEqual([1])
    await expect(o.approvals.pending(alice, { limit: 0 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      details: { field: 'limit' },
    })
  })
})

describe('workflows.get and runs.events after a seq', () => {
  it('answers one name with its versions and a definition, current or pinned', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const v1 = await o.workflows.register(alice, BOARD)
    const v2 = await o.workflows.register(alice, { definition: { ...BOARD.definition, description: 'two' } })
    const current = await o.workflows.get(alice, 'board')
    expect(current).toMatchObject({
      name: 'board',
      hash: v2.hash,
      definitionHash: v2.hash,
      definition: { description: 'two' },
      versions: [
        { hash: v1.hash, current: false },
        { hash: v2.hash, current: true },
      ],
    })
    expect((await o.workflows.get(alice, 'board', v1.hash)).definitionHash).toBe(v1.hash)
    await expect(o.workflows.get(alice, 'board', 'f'.repeat(64))).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(o.workflows.get(acme, 'board')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(o.workflows.get(alice, '../board')).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })

  it('reads the events after a seq, none after the last, and refuses a bad one', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const { runId } = await o.runs.start(alice, { source: BOARD })
    await eventOf(o, alice, runId, (e) => e.type === 'step.waiting' && e.data.item === 1)
    const all = await o.runs.events(alice, runId)
    expect((await o.runs.events(alice, runId, { after: 1 })).map((e) => e.seq)).toEqual(all.slice(1).map((e) => e.seq))
    expect(await o.runs.events(alice, runId, { after: all.length })).toEqual([])
    await expect(o.runs.events(alice, runId, { after: -1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(o.runs.events(acme, runId, { after: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})

describe('metrics and capacity', () => {
  it('counts runs by status from the index and observes run ends and step latencies on the feed', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const seen: unknown[] = []
    const stop = new AbortController()
    const observed = o.metrics.observe(alice, (x) => seen.push(x), { signal: stop.signal })
    const gate = await o.runs.start(alice, { source: await example('approval-gate'), input: { version: '1' } })
    await eventOf(o, alice, gate.runId, waitsForApproval)
    await o.runs.cancel(alice, gate.runId)
    for (let i = 0; i < 100 && !seen.some((x) => (x as { kind: string }).kind === 'run-ended'); i++) {
      await new Promise((r) => setTimeout(r, 20))
    }
    stop.abort()
    await observed
    expect(seen).toContainEqual({ kind: 'run-ended', status: 'cancelled' })
    expect(seen).toContainEqual({ kind: 'step-ended', status: 'completed', seconds: expect.any(Number) })

    const snapshot = await o.metrics.snapshot(alice)
    expect(snapshot).toMatchObject({
      tenant: 'default',
      runs: { running: 0, paused: 0, completed: 0, failed: 0, cancelled: 1 },
      llm: [],
      pool: { queued: 0, inFlight: 0, sources: [] },
    })
    expect((await o.metrics.snapshot(acme)).runs.cancelled).toBe(0)
  })
})
