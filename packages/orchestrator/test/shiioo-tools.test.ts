import type { Json, TenantId } from '@shiioo/core'
import { toShiiooError } from '@shiioo/core'
import type { Permits, ToolCaller, ToolCatalog } from '@shiioo/mcp'
import { createToolCatalog, shiiooToolSource } from '@shiioo/mcp'
import { afterEach, describe, expect, it } from 'vitest'
import type { CallerContext, Orchestrator } from '../src/index.js'
import { localCaller, permits, shiiooToolPort, toolCallerOf } from '../src/index.js'
import { eventOf, example, testStacks, waitsForApproval } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const alice = localCaller('alice')
const admin = toolCallerOf(alice)
const viewerContext: CallerContext = { tenant: alice.tenant, actor: { kind: 'user', id: 'vera' }, roles: ['viewer'] }
const viewer = toolCallerOf(viewerContext)
const acme = toolCallerOf(localCaller('alice', 'acme' as TenantId))

const READ_TOOLS = [
  'shiioo.blobs.get',
  'shiioo.runs.events',
  'shiioo.runs.get',
  'shiioo.runs.search',
  'shiioo.runs.state',
  'shiioo.workflows.list',
]
/** A run id no tenant has. */
const UNKNOWN = 'run_01JQ3Z8R5B2Y7XKZ4M6N9P0S1T'

/** approval-gate's input, large enough that the engine keeps it as a blob, not inline. */
const BIG_INPUT = {
  version: '3.0',
  changes: Array.from({ length: 300 }, (_, i) => `change number ${i} of the release`),
}

type Page = { events: Array<{ seq: number; type: string; data: Record<string, Json> }>; nextAfterSeq: number | null }
type RunOut = { runId: string; status: string; lastSeq: number; decisions: unknown[]; cancelReason: string | null }

async function toolsOver(o: Orchestrator, grants: Permits = permits) {
  const catalog: ToolCatalog = await createToolCatalog({
    sources: [shiiooToolSource(shiiooToolPort(o))],
    permits: grants,
  })
  let calls = 0
  const call = async <T = Json>(caller: ToolCaller, name: string, input: Json, key = `test:${++calls}`): Promise<T> =>
    (await catalog.call(name, input, { caller, signal: new AbortController().signal, idempotencyKey: key })) as T
  /** The error a call fails with, as { code, message, details }. */
  const failure = async (caller: ToolCaller, name: string, input: Json) => {
    try {
      await call(caller, name, input)
    } catch (error) {
      const { code, message, details } = toShiiooError(error)
      return { code, message, details }
    }
    throw new Error(`${name} did not fail`)
  }
  return { catalog, call, failure }
}

/** Reads the run with shiioo.runs.get until `done` accepts it. */
async function until(read: () => Promise<RunOut>, done: (run: RunOut) => boolean): Promise<RunOut> {
  for (let i = 0; ; i++) {
    const run = await read()
    if (done(run) || i === 500) return run
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe("Shiioo's own tools against a real orchestrator", () => {
  it('start, see the approval pending, decide it, follow the run to its end, read its events and a blob', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    await o.workflows.register(alice, await example('approval-gate'))
    const { call, failure } = await toolsOver(o)

    const { workflows } = await call<{ workflows: Array<{ name: string; hash: string }> }>(
      admin,
      'shiioo.workflows.list',
      {},
    )
    expect(workflows.map((w) => w.name)).toEqual(['approval-gate'])

    const started = await call<{ runId: string; workflow: { hash: string }; duplicate: boolean }>(
      admin,
      'shiioo.runs.start',
      { workflow: 'approval-gate', input: BIG_INPUT },
      'mcp:start-1',
    )
    expect(started).toMatchObject({ workflow: { name: 'approval-gate', hash: workflows[0]!.hash }, duplicate: false })
    const { runId } = started
    // the same tool call again (an MCP client retrying with its key) answers the same run
    expect(
      await call(admin, 'shiioo.runs.start', { workflow: 'approval-gate', input: BIG_INPUT }, 'mcp:start-1'),
    ).toMatchObject({ runId, duplicate: true })
    expect(await failure(admin, 'shiioo.runs.start', { workflow: 'no-such-flow' })).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('no workflow named "no-such-flow"'),
    })
    expect(await failure(admin, 'shiioo.runs.start', { workflow: 'approval-gate', input: {} })).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('version'),
    })

    await eventOf(o, alice, runId, waitsForApproval)
    const pending = await call<{ items: Array<Record<string, Json>>; nextCursor: string | null }>(
      admin,
      'shiioo.approvals.pending',
      {},
    )
    expect(pending).toEqual({
      items: [expect.objectContaining({ runId, stepId: 'review', item: null, prompt: expect.any(String) })],
      nextCursor: null,
    })
    expect(pending.items[0]!.prompt).toMatch(/^Publish these release notes for 3\.0\?/)

    const decided = await call<RunOut>(admin, 'shiioo.approvals.decide', {
      runId,
      stepId: 'review',
      decision: 'approve',
      comment: 'ship it',
    })
    expect(decided.decisions).toEqual([
      expect.objectContaining({ stepId: 'review', decision: 'approve', comment: 'ship it', actor: alice.actor }),
    ])
    expect(
      await failure(admin, 'shiioo.approvals.decide', { runId, stepId: 'review', decision: 'reject' }),
    ).toMatchObject({ code: 'CONFLICT' })

    const done = await until(
      () => call<RunOut>(admin, 'shiioo.runs.get', { runId }),
      (r) => r.status !== 'running',
    )
    expect(done).toMatchObject({ runId, status: 'completed' })
    expect((await call<{ items: unknown[] }>(admin, 'shiioo.approvals.pending', {})).items).toEqual([])
    expect(await call(admin, 'shiioo.runs.search', { status: 'completed' })).toEqual({
      items: [expect.objectContaining({ runId, status: 'completed', workflow: expect.any(Object) })],
      nextCursor: null,
    })
    expect(await call(admin, 'shiioo.runs.search', { status: 'failed' })).toEqual({ items: [], nextCursor: null })

    // every event, then the same in pages of 2 that follow nextAfterSeq
    const all = await call<Page>(admin, 'shiioo.runs.events', { runId })
    expect(all.nextAfterSeq).toBeNull()
    expect(all.events.map((e) => e.seq)).toEqual(Array.from({ length: done.lastSeq }, (_, i) => i + 1))
    expect(all.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['run.started', 'step.waiting', 'approval.decided', 'run.completed']),
    )
    const paged: Page['events'] = []
    for (let after: number | null = 0; after !== null;) {
      const page: Page = await call<Page>(admin, 'shiioo.runs.events', { runId, afterSeq: after, limit: 2 })
      expect(page.events.length).toBeLessThanOrEqual(2)
      paged.push(...page.events)
      after = page.nextAfterSeq
    }
    expect(paged).toEqual(all.events)

    // the run as of the decision
    const decision = all.events.find((e) => e.type === 'approval.decided')!
    const before = await call<RunOut & { asOf: { seq: number } }>(admin, 'shiioo.runs.state', {
      runId,
      seq: decision.seq - 1,
    })
    expect(before).toMatchObject({ status: 'running', decisions: [], asOf: { seq: decision.seq - 1 } })
    expect(await failure(admin, 'shiioo.runs.state', { runId, seq: done.lastSeq + 1 })).toMatchObject({
      code: 'INVALID_INPUT',
      details: { field: 'seq' },
    })

    // the input was too large to stay inline: its blob, by hash
    const startedEvent = all.events.find((e) => e.type === 'run.started')!
    const blob = (startedEvent.data.input as { blob?: string }).blob
    expect(blob).toMatch(/^[0-9a-f]{64}$/)
    expect(await call(admin, 'shiioo.blobs.get', { runId, hash: blob! })).toEqual({
      runId,
      blob,
      value: expect.objectContaining(BIG_INPUT),
    })
    expect(await failure(admin, 'shiioo.blobs.get', { runId, hash: '0'.repeat(64) })).toMatchObject({
      code: 'NOT_FOUND',
    })

    // the services admitted and audited the changes as the tool's caller
    const audited = (await o.audit.list(alice)).items.filter((e) => e.actor.id === alice.actor.id)
    expect(audited.map((e) => [e.action, e.outcome.status])).toEqual(
      expect.arrayContaining([
        ['run.start', 'ok'],
        ['run.decide', 'ok'],
        ['run.decide', 'error'],
      ]),
    )
  })

  it('cancels a run, with its reason', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    await o.workflows.register(alice, await example('approval-gate'))
    const { call, failure } = await toolsOver(o)
    const { runId } = await call<{ runId: string }>(admin, 'shiioo.runs.start', {
      workflow: 'approval-gate',
      input: { version: '4' },
      idempotencyKey: 'release-4',
    })
    await eventOf(o, alice, runId, waitsForApproval)
    expect(await call(admin, 'shiioo.runs.cancel', { runId, reason: 'superseded' })).toMatchObject({
      runId,
      status: 'cancelled',
      cancelReason: 'superseded',
    })
    expect(await failure(admin, 'shiioo.runs.cancel', { runId })).toMatchObject({ code: 'CONFLICT' })
    // the caller's own key names the run it started, whatever the call
    expect(
      await call(admin, 'shiioo.runs.start', {
        workflow: 'approval-gate',
        input: { version: '4' },
        idempotencyKey: 'release-4',
      }),
    ).toMatchObject({ runId, duplicate: true })
  })

  it('shows a viewer the read tools only: they work, and the others are refused', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    await o.workflows.register(alice, await example('approval-gate'))
    const { catalog, call, failure } = await toolsOver(o)
    const { runId } = await call<{ runId: string }>(admin, 'shiioo.runs.start', {
      workflow: 'approval-gate',
      input: { version: '5' },
    })
    await eventOf(o, alice, runId, waitsForApproval)

    expect(catalog.list(admin)).toHaveLength(10)
    expect(catalog.list(viewer).map((t) => t.name)).toEqual(READ_TOOLS)
    expect(await call(viewer, 'shiioo.runs.get', { runId })).toMatchObject({ runId, status: 'running' })
    expect((await call<Page>(viewer, 'shiioo.runs.events', { runId })).events.length).toBeGreaterThan(0)
    expect((await call<{ items: unknown[] }>(viewer, 'shiioo.runs.search', {})).items).toHaveLength(1)
    expect((await call<{ workflows: unknown[] }>(viewer, 'shiioo.workflows.list', {})).workflows).toHaveLength(1)
    expect(await call(viewer, 'shiioo.runs.state', { runId, seq: 1 })).toMatchObject({ asOf: { seq: 1 } })

    for (const [name, input, action] of [
      ['shiioo.runs.start', { workflow: 'approval-gate', input: { version: '6' } }, 'run.start'],
      ['shiioo.runs.cancel', { runId }, 'run.cancel'],
      ['shiioo.approvals.decide', { runId, stepId: 'review', decision: 'approve' }, 'run.decide'],
      ['shiioo.approvals.pending', {}, 'approval.list'],
    ] as const) {
      expect(await failure(viewer, name, input)).toMatchObject({ code: 'FORBIDDEN', details: { action } })
    }
    expect((await o.runs.get(alice, runId)).status).toBe('running')
    expect((await o.runs.list(alice)).items).toHaveLength(1)
  })

  it('is refused by the services too, when a catalog grants more than the roles allow', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    await o.workflows.register(alice, await example('approval-gate'))
    const { catalog, failure } = await toolsOver(o, () => true)
    expect(catalog.list(viewer)).toHaveLength(10)
    expect(
      await failure(viewer, 'shiioo.runs.start', { workflow: 'approval-gate', input: { version: '7' } }),
    ).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('may not run.start') })
    expect((await o.runs.list(alice)).items).toEqual([])
    expect((await o.audit.list(alice)).items.filter((e) => e.actor.id === 'vera')).toEqual([
      expect.objectContaining({
        actor: viewerContext.actor,
        action: 'run.start',
        outcome: expect.objectContaining({ status: 'denied', code: 'FORBIDDEN' }),
      }),
    ])
  })

  it("answers another tenant's run exactly as an unknown one: NOT_FOUND", async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    await o.workflows.register(alice, await example('approval-gate'))
    const { call, failure } = await toolsOver(o)
    const { runId } = await call<{ runId: string }>(admin, 'shiioo.runs.start', {
      workflow: 'approval-gate',
      input: BIG_INPUT,
    })
    await eventOf(o, alice, runId, waitsForApproval)
    const events = await call<Page>(admin, 'shiioo.runs.events', { runId })
    const blob = (events.events.find((e) => e.type === 'run.started')!.data.input as { blob: string }).blob

    const byRun = (id: string): Array<[string, Json]> => [
      ['shiioo.runs.get', { runId: id }],
      ['shiioo.runs.events', { runId: id }],
      ['shiioo.runs.events', { runId: id, afterSeq: 2 }],
      ['shiioo.runs.state', { runId: id, seq: 1 }],
      ['shiioo.blobs.get', { runId: id, hash: blob }],
      ['shiioo.runs.cancel', { runId: id }],
      ['shiioo.approvals.decide', { runId: id, stepId: 'review', decision: 'approve' }],
    ]
    const unknown = byRun(UNKNOWN)
    for (const [i, [name, input]] of byRun(runId).entries()) {
      const theirs = await failure(acme, name, input)
      const none = await failure(acme, name, unknown[i]![1])
      expect(theirs.code, name).toBe('NOT_FOUND')
      expect(JSON.stringify(theirs).replaceAll(runId, UNKNOWN), name).toBe(JSON.stringify(none))
    }
    expect(await call(acme, 'shiioo.runs.search', {})).toEqual({ items: [], nextCursor: null })
    expect(await call(acme, 'shiioo.approvals.pending', {})).toEqual({ items: [], nextCursor: null })
    expect(await call(acme, 'shiioo.workflows.list', {})).toEqual({ workflows: [] })
    expect(
      await failure(acme, 'shiioo.runs.start', { workflow: 'approval-gate', input: { version: '1' } }),
    ).toMatchObject({ code: 'NOT_FOUND' })
    // nothing of it changed the run
    expect(await call(admin, 'shiioo.runs.get', { runId })).toMatchObject({ status: 'running', decisions: [] })
  })
})
