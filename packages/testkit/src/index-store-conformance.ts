import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  createIdFactory,
  isShiiooError,
  parseTenantId,
  type FeedPosition,
  type IndexStore,
  type LlmCall,
  type RunId,
  type RunSummary,
  type StepSummary,
  type StreamCheckpoint,
  type StreamId,
  type TenantId,
} from '@shiioo/core'

export interface IndexStoreHarness {
  store: IndexStore
  /** Opens the same data again after `store.close()`; omit when the backend cannot. */
  reopen?: () => Promise<IndexStore>
  /** Releases everything the factory made (stores from `reopen` included); `close()` is idempotent. */
  cleanup: () => Promise<void>
}

const ACME = parseTenantId('acme')
const GLOBEX = parseTenantId('globex')
const HASH = 'ab'.repeat(32)
const T0 = Date.parse('2025-03-01T00:00:00.000Z')
const MINUTE = 60_000

/** Valid run summaries whose run ids sort in start order (ids are minted at the start time). */
function runMaker() {
  let now = T0
  const ids = createIdFactory(() => now)
  return (minute: number, overrides: Partial<RunSummary> = {}): RunSummary => {
    now = T0 + minute * MINUTE
    const at = new Date(now).toISOString()
    return {
      tenant: ACME,
      runId: ids.runId(),
      workflow: 'nightly-report',
      workflowHash: HASH,
      status: 'running',
      startedAt: at,
      updatedAt: at,
      endedAt: null,
      reason: null,
      version: 1,
      steps: [],
      ...overrides,
    }
  }
}

function step(stepId: string, overrides: Partial<StepSummary> = {}): StepSummary {
  return { stepId, status: 'completed', attempts: 1, startedAt: null, endedAt: null, error: null, ...overrides }
}

function listItem(run: RunSummary) {
  const { steps, ...rest } = run
  return { ...rest, stepCount: steps.length }
}

/** Expects a ShiiooError INVALID_INPUT, naming `field` in its details when one is given. */
async function expectInvalid(promise: Promise<unknown>, field?: string): Promise<void> {
  const err: unknown = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err, `expected INVALID_INPUT${field ? ` naming ${field}` : ''}`).not.toBeNull()
  const seen = isShiiooError(err) ? { code: err.code, field: field && err.details['field'] } : err
  expect(seen).toEqual({ code: 'INVALID_INPUT', field })
}

async function allPages(store: IndexStore, query: Parameters<IndexStore['listRuns']>[0]): Promise<RunId[][]> {
  const pages: RunId[][] = []
  let cursor: string | undefined
  for (;;) {
    const page = await store.listRuns({ ...query, cursor })
    pages.push(page.items.map((r) => r.runId))
    if (page.nextCursor === null) return pages
    if (pages.length > 100) throw new Error('pagination does not end')
    cursor = page.nextCursor
  }
}

/** The IndexStore port's behaviour; every adapter runs it against its real backend. */
export function indexStoreConformance(name: string, factory: () => Promise<IndexStoreHarness>): void {
  describe(`IndexStore conformance: ${name}`, () => {
    let h: IndexStoreHarness
    let store: IndexStore
    let makeRun: ReturnType<typeof runMaker>

    beforeEach(async () => {
      h = await factory()
      store = h.store
      makeRun = runMaker()
    })
    afterEach(async () => {
      await h.cleanup()
    })

    it('round-trips a run summary with every field, its steps and their errors', async () => {
      const run = makeRun(0, {
        status: 'failed',
        updatedAt: '2025-03-01T00:05:00.000Z',
        endedAt: '2025-03-01T00:05:00.000Z',
        reason: 'step fetch failed: upstream said "no" \'twice\'',
        version: 7,
        steps: [
          step('plan', { startedAt: '2025-03-01T00:00:01.000Z', endedAt: '2025-03-01T00:00:02.000Z' }),
          step('fetch', {
            status: 'failed',
            attempts: 3,
            startedAt: '2025-03-01T00:00:03.000Z',
            endedAt: '2025-03-01T00:05:00.000Z',
            error: { code: 'UPSTREAM', message: 'déjà vu: 502 ✗', retryable: true },
          }),
          step('publish', { status: 'skipped', attempts: 0, endedAt: '2025-03-01T00:05:00.000Z' }),
        ],
      })
      await store.save({ runs: [run], checkpoints: [] })
      expect(await store.getRun({ tenant: ACME, runId: run.runId })).toEqual(run)
      expect(await store.getRuns({ tenant: ACME, runIds: [run.runId] })).toEqual(new Map([[run.runId, run]]))
      expect((await store.listRuns({ tenant: ACME })).items).toEqual([listItem(run)])
    })

    it('returns null or leaves out runs it does not have', async () => {
      const [kept, missing] = [makeRun(0), makeRun(1)]
      await store.save({ runs: [kept], checkpoints: [] })
      expect(await store.getRun({ tenant: ACME, runId: missing.runId })).toBeNull()
      const found = await store.getRuns({ tenant: ACME, runIds: [missing.runId, kept.runId, kept.runId] })
      expect([...found.keys()]).toEqual([kept.runId])
      expect((await store.getRuns({ tenant: ACME, runIds: [] })).size).toBe(0)
    })

    it('replaces a saved run and all of its steps on upsert', async () => {
      const started = { status: 'running' as const, startedAt: '2025-03-01T00:00:01.000Z' }
      const first = makeRun(0, { steps: ['a', 'b', 'c'].map((id) => step(id, started)) })
      await store.save({ runs: [first], checkpoints: [] })
      const second: RunSummary = {
        ...first,
        status: 'completed',
        version: 9,
        updatedAt: '2025-03-01T00:09:00.000Z',
        endedAt: '2025-03-01T00:09:00.000Z',
        reason: 'all steps completed',
        steps: [
          step('b', { ...started, status: 'completed', endedAt: '2025-03-01T00:08:00.000Z' }),
          step('d', { ...started, attempts: 2 }),
        ],
      }
      await store.save({ runs: [second], checkpoints: [] })
      expect(await store.getRun({ tenant: ACME, runId: first.runId })).toEqual(second)
      expect((await store.listRuns({ tenant: ACME })).items).toEqual([listItem(second)])
    })

    it('never lets an older summary of a run replace a newer one (two projectors racing)', async () => {
      const newer = makeRun(0, { status: 'completed', version: 7, steps: [step('a', { status: 'completed' })] })
      const older = { ...newer, status: 'running' as const, version: 4, steps: [step('a')] }
      await store.save({ runs: [newer], checkpoints: [] })
      await store.save({ runs: [older], checkpoints: [] })
      expect(await store.getRun({ tenant: ACME, runId: newer.runId })).toEqual(newer)
    })

    it('saves and reads back many runs in one call', async () => {
      const runs = Array.from({ length: 700 }, (_, i) => makeRun(i, { steps: [step(`s${i}`)] }))
      await store.save({ runs, checkpoints: [] })
      const found = await store.getRuns({ tenant: ACME, runIds: runs.map((r) => r.runId) })
      expect(found.size).toBe(700)
      for (const r of runs) expect(found.get(r.runId)).toEqual(r)
    })

    it('saves nothing of a batch that holds an invalid run', async () => {
      const good = makeRun(0)
      const bad = makeRun(1, { startedAt: 'yesterday' })
      const checkpoint: StreamCheckpoint = { tenant: ACME, stream: good.runId, version: 1, token: 't1' }
      await expectInvalid(store.save({ runs: [good, bad], checkpoints: [checkpoint] }))
      expect(await store.getRun({ tenant: ACME, runId: good.runId })).toBeNull()
      expect(await store.checkpoints()).toEqual([])
    })

    it('round-trips and upserts stream checkpoints per tenant', async () => {
      const cp = (tenant: TenantId, stream: string, version: number, token: string): StreamCheckpoint => ({
        tenant,
        stream: stream as StreamId,
        version,
        token,
      })
      const sorted = (list: StreamCheckpoint[]) =>
        [...list].sort((a, b) => `${a.tenant}/${a.stream}`.localeCompare(`${b.tenant}/${b.stream}`))
      await store.save({
        runs: [],
        checkpoints: [cp(ACME, 'config', 3, 'a'), cp(GLOBEX, 'config', 5, 'b'), cp(ACME, 'audit', 1, 'c')],
      })
      expect(sorted(await store.checkpoints())).toEqual([
        cp(ACME, 'audit', 1, 'c'),
        cp(ACME, 'config', 3, 'a'),
        cp(GLOBEX, 'config', 5, 'b'),
      ])
      await store.save({ runs: [], checkpoints: [cp(ACME, 'config', 4, 'a2')] })
      expect(sorted(await store.checkpoints())).toEqual([
        cp(ACME, 'audit', 1, 'c'),
        cp(ACME, 'config', 4, 'a2'),
        cp(GLOBEX, 'config', 5, 'b'),
      ])
      await store.save({ runs: [], checkpoints: [] })
      expect(await store.checkpoints()).toHaveLength(3)
    })

    it('lists newest first and filters by status and workflow', async () => {
      const a = makeRun(0, { status: 'completed' })
      const b = makeRun(1, { workflow: 'ingest' })
      const c = makeRun(2, { status: 'completed', workflow: 'ingest' })
      const d = makeRun(3)
      await store.save({ runs: [c, a, d, b], checkpoints: [] })
      const ids = async (q: Omit<Parameters<IndexStore['listRuns']>[0], 'tenant'>) =>
        (await store.listRuns({ tenant: ACME, ...q })).items.map((r) => r.runId)
      expect(await ids({})).toEqual([d.runId, c.runId, b.runId, a.runId])
      expect(await ids({ status: 'completed' })).toEqual([c.runId, a.runId])
      expect(await ids({ workflow: 'ingest' })).toEqual([c.runId, b.runId])
      expect(await ids({ status: 'completed', workflow: 'ingest' })).toEqual([c.runId])
      expect(await ids({ status: 'cancelled' })).toEqual([])
      expect(await ids({ workflow: "ingest' OR '1'='1" })).toEqual([])
    })

    it('filters by start time: from inclusive, before exclusive, compared as instants', async () => {
      const runs = [0, 1, 2].map((m) => makeRun(m))
      const odd = makeRun(2.5, { startedAt: '2025-03-01T00:02:30.5Z' })
      runs.push(...[3, 4, 5].map((m) => makeRun(m)))
      await store.save({ runs: [...runs, odd], checkpoints: [] })
      const page = await store.listRuns({
        tenant: ACME,
        startedFrom: '2025-03-01T00:01:00Z',
        startedBefore: '2025-03-01T00:04:00Z',
      })
      expect(page.items.map((r) => r.runId)).toEqual([runs[3]!.runId, odd.runId, runs[2]!.runId, runs[1]!.runId])
      expect(page.items[1]).toEqual(listItem(odd))
      const later = await store.listRuns({ tenant: ACME, startedFrom: '2025-03-01T00:02:30.500000Z' })
      expect(later.items.map((r) => r.runId)).toEqual([runs[5]!.runId, runs[4]!.runId, runs[3]!.runId, odd.runId])
      await expectInvalid(store.listRuns({ tenant: ACME, startedFrom: 'last tuesday' }), 'startedFrom')
      await expectInvalid(store.listRuns({ tenant: ACME, startedBefore: '2025-03-01' }), 'startedBefore')
    })

    it('pages through every run exactly once, newest first', async () => {
      const runs = Array.from({ length: 120 }, (_, i) => makeRun(i, { status: i % 2 === 0 ? 'completed' : 'running' }))
      await store.save({ runs, checkpoints: [] })
      const newestFirst = runs.map((r) => r.runId).reverse()
      const pages = await allPages(store, { tenant: ACME, limit: 50 })
      expect(pages.map((p) => p.length)).toEqual([50, 50, 20])
      expect(pages.flat()).toEqual(newestFirst)
      const completed = await allPages(store, { tenant: ACME, status: 'completed', limit: 25 })
      expect(completed.map((p) => p.length)).toEqual([25, 25, 10])
      expect(completed.flat()).toEqual(newestFirst.filter((_, i) => i % 2 === 1))
      expect((await allPages(store, { tenant: ACME, limit: 60 })).map((p) => p.length)).toEqual([60, 60])
      const first = await store.listRuns({ tenant: ACME })
      expect(first.items).toHaveLength(50)
      expect(first.nextCursor).toEqual(expect.any(String))
    })

    it('rejects a limit outside 1..500 and a malformed cursor or status', async () => {
      await store.save({ runs: [makeRun(0)], checkpoints: [] })
      for (const limit of [0, -1, 501, 1.5, Number.NaN])
        await expectInvalid(store.listRuns({ tenant: ACME, limit }), 'limit')
      expect((await store.listRuns({ tenant: ACME, limit: 500 })).items).toHaveLength(1)
      const junk = ['not a cursor!', '', 'AAAA', Buffer.from('{"after":"run_x"}').toString('base64url'), "' OR 1=1 --"]
      for (const cursor of junk) await expectInvalid(store.listRuns({ tenant: ACME, cursor }), 'cursor')
      await expectInvalid(store.listRuns({ tenant: ACME, status: 'sleeping' as 'running' }), 'status')
    })

    it('keeps tenants apart', async () => {
      const mine = makeRun(0)
      const theirs: RunSummary = { ...mine, tenant: GLOBEX, workflow: 'other', steps: [] }
      const onlyTheirs = makeRun(1, { tenant: GLOBEX })
      await store.save({ runs: [mine, theirs, onlyTheirs], checkpoints: [] })
      expect(await store.getRun({ tenant: ACME, runId: mine.runId })).toEqual(mine)
      expect(await store.getRun({ tenant: GLOBEX, runId: mine.runId })).toEqual(theirs)
      expect(await store.getRun({ tenant: ACME, runId: onlyTheirs.runId })).toBeNull()
      expect((await store.getRuns({ tenant: ACME, runIds: [onlyTheirs.runId] })).size).toBe(0)
      expect((await store.listRuns({ tenant: ACME })).items).toEqual([listItem(mine)])
      expect((await store.listRuns({ tenant: GLOBEX })).items).toEqual([listItem(onlyTheirs), listItem(theirs)])
      expect((await store.listRuns({ tenant: parseTenantId('initech') })).items).toEqual([])
    })

    it('keeps a cost ledger of model calls, grouped by any dimension within a time window', async () => {
      const run = makeRun(0)
      const other = makeRun(1, { workflow: 'triage' })
      const call = (r: RunSummary, seq: number, minute: number, over: Partial<LlmCall> = {}): LlmCall => ({
        tenant: r.tenant,
        runId: r.runId,
        seq,
        at: new Date(T0 + minute * MINUTE).toISOString(),
        workflow: r.workflow,
        stepId: 'draft',
        role: 'writer',
        source: 'openai-main',
        model: 'gpt-x',
        inputTokens: 100,
        outputTokens: 10,
        cost: 0.5,
        ...over,
      })
      const calls = [
        call(run, 3, 0),
        call(run, 5, 1, { stepId: 'review', role: 'reviewer', source: 'anthropic', cost: 2 }),
        call(other, 2, 5, { role: null, cost: 0.25 }),
        call({ ...run, tenant: GLOBEX }, 3, 0, { cost: 100 }),
      ]
      await store.save({ runs: [run, other], checkpoints: [], llmCalls: calls })
      await store.save({ runs: [], checkpoints: [], llmCalls: [call(run, 3, 0, { cost: 99 })] }) // a re-projection: kept once
      const sum = (key: string, n: number, cost: number) => ({
        key,
        calls: n,
        inputTokens: 100 * n,
        outputTokens: 10 * n,
        cost,
      })
      expect(await store.costs({ tenant: ACME, by: 'source' })).toEqual([
        sum('anthropic', 1, 2),
        sum('openai-main', 2, 0.75),
      ])
      expect(await store.costs({ tenant: ACME, by: 'role' })).toEqual([
        sum('reviewer', 1, 2),
        sum('writer', 1, 0.5),
        sum('-', 1, 0.25),
      ])
      expect(await store.costs({ tenant: ACME, by: 'workflow' })).toEqual([
        sum('nightly-report', 2, 2.5),
        sum('triage', 1, 0.25),
      ])
      expect(await store.costs({ tenant: ACME, by: 'step', runId: run.runId })).toEqual([
        sum(`${run.runId}/review`, 1, 2),
        sum(`${run.runId}/draft`, 1, 0.5),
      ])
      const window = { from: new Date(T0 + MINUTE).toISOString(), before: new Date(T0 + 5 * MINUTE).toISOString() }
      expect(await store.costs({ tenant: ACME, by: 'tenant', ...window })).toEqual([sum('acme', 1, 2)])
      expect(await store.costs({ tenant: GLOBEX, by: 'run' })).toEqual([sum(run.runId, 1, 100)])
      await expectInvalid(store.costs({ tenant: ACME, by: 'colour' as 'run' }), 'by')
      await store.reset()
      expect(await store.costs({ tenant: ACME, by: 'run' })).toEqual([])
    })

    it('reset empties runs, steps and checkpoints', async () => {
      const run = makeRun(0, { steps: [step('a', { status: 'running' })] })
      await store.save({
        runs: [run],
        checkpoints: [{ tenant: ACME, stream: 'config' as StreamId, version: 1, token: 't' }],
      })
      await store.reset()
      expect(await store.getRun({ tenant: ACME, runId: run.runId })).toBeNull()
      expect((await store.listRuns({ tenant: ACME })).items).toEqual([])
      expect(await store.checkpoints()).toEqual([])
      const again = { ...run, steps: [] }
      await store.save({ runs: [again], checkpoints: [] })
      expect(await store.getRun({ tenant: ACME, runId: run.runId })).toEqual(again)
    })

    it('keeps the feed position saved with what it covers, replaces it on the next save, and forgets it on reset', async () => {
      expect(await store.feedPosition()).toBeNull()
      const run = makeRun(0)
      const first = '000000000010.00000002.0badf00d' as FeedPosition
      await store.save({ runs: [run], checkpoints: [], feedPosition: first })
      expect(await store.feedPosition()).toBe(first)
      // a save without one keeps it; a position alone is saved too
      await store.save({ runs: [{ ...run, version: run.version + 1 }], checkpoints: [] })
      expect(await store.feedPosition()).toBe(first)
      const second = '000000000020.00000001.00c0ffee' as FeedPosition
      await store.save({ runs: [], checkpoints: [], feedPosition: second })
      expect(await store.feedPosition()).toBe(second)
      // not saved when the rest of its batch is refused
      await expectInvalid(
        store.save({ runs: [makeRun(1, { startedAt: 'yesterday' })], checkpoints: [], feedPosition: first }),
      )
      expect(await store.feedPosition()).toBe(second)
      await store.reset()
      expect(await store.feedPosition()).toBeNull()
    })

    it('keeps the rows of control-stream projections: by tenant and key, replaced per stream, never by an older version, emptied on reset', async () => {
      const workflows = 'workflows' as StreamId
      const board = 'notes.board' as StreamId
      await store.save({
        runs: [],
        checkpoints: [],
        projected: [
          {
            projection: 'workflows',
            tenant: ACME,
            stream: workflows,
            version: 2,
            rows: [
              { key: 'triage', data: { name: 'triage', hashes: ['a', 'b'] } },
              { key: 'digest', data: { name: 'digest', hashes: ['c'] } },
            ],
          },
          {
            projection: 'workflows',
            tenant: GLOBEX,
            stream: workflows,
            version: 1,
            rows: [{ key: 'triage', data: 1 }],
          },
          { projection: 'notes', tenant: ACME, stream: board, version: 1, rows: [{ key: 'triage', data: 'a note' }] },
        ],
      })
      const keys = async (tenant: TenantId, projection = 'workflows') =>
        (await store.rows({ projection, tenant })).map((r) => [r.key, r.data, r.stream, r.version])
      expect(await keys(ACME)).toEqual([
        ['digest', { name: 'digest', hashes: ['c'] }, workflows, 2],
        ['triage', { name: 'triage', hashes: ['a', 'b'] }, workflows, 2],
      ])
      expect(await keys(GLOBEX)).toEqual([['triage', 1, workflows, 1]])
      expect(await keys(ACME, 'notes')).toEqual([['triage', 'a note', board, 1]])
      expect((await store.rows({ projection: 'workflows', tenant: ACME, key: 'digest' })).map((r) => r.key)).toEqual([
        'digest',
      ])
      expect(await store.rows({ projection: 'workflows', tenant: ACME, key: 'nope' })).toEqual([])
      // a later version of the stream replaces all its rows (a row it no longer has goes)
      await store.save({
        runs: [],
        checkpoints: [],
        projected: [
          { projection: 'workflows', tenant: ACME, stream: workflows, version: 3, rows: [{ key: 'triage', data: 3 }] },
        ],
      })
      expect(await keys(ACME)).toEqual([['triage', 3, workflows, 3]])
      // an older one (a second projector behind the first) changes nothing
      await store.save({
        runs: [],
        checkpoints: [],
        projected: [
          { projection: 'workflows', tenant: ACME, stream: workflows, version: 2, rows: [{ key: 'old', data: 2 }] },
        ],
      })
      expect(await keys(ACME)).toEqual([['triage', 3, workflows, 3]])
      await store.reset()
      expect(await keys(ACME)).toEqual([])
      expect(await keys(ACME, 'notes')).toEqual([])
    })

    it('keeps its data across close and reopen', async (ctx) => {
      if (!h.reopen) return ctx.skip()
      const run = makeRun(0, { steps: [step('a')] })
      const checkpoint: StreamCheckpoint = { tenant: ACME, stream: run.runId, version: 1, token: 't' }
      await store.save({ runs: [run], checkpoints: [checkpoint] })
      await store.close()
      await store.close()
      const reopened = await h.reopen()
      try {
        expect(await reopened.getRun({ tenant: ACME, runId: run.runId })).toEqual(run)
        expect(await reopened.checkpoints()).toEqual([checkpoint])
      } finally {
        await reopened.close()
      }
    })
  })
}
