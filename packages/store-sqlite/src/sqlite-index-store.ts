import type Database from 'better-sqlite3'
import { asc } from 'drizzle-orm'
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import {
  COST_DIMENSIONS,
  ShiiooError,
  type CostQuery,
  type CostRow,
  type FeedPosition,
  type IndexStore,
  type Json,
  type ListRunsQuery,
  type Logger,
  type Page,
  type RunId,
  type RunListItem,
  type RunSummary,
  type StreamCheckpoint,
  type StoredProjectionRow,
  type StreamId,
  type TenantId,
} from '@shiioo/core'
import {
  decodeCursor,
  encodeCursor,
  instantKey,
  parseLimit,
  parseStatus,
  stepsFromJson,
  stepsToJson,
  storedRunStatus,
} from './codec.js'
import { llmCalls, meta, projectionRows, runs, streamCheckpoints } from './schema.js'
import type * as schema from './schema.js'

interface RunRow {
  tenant: string
  run_id: string
  workflow: string
  workflow_hash: string
  status: string
  started_at: string
  updated_at: string
  ended_at: string | null
  reason: string | null
  version: number
  steps_json: string
}

/** What a listing reads, in the order of ListRow. */
const LIST_COLUMNS =
  'tenant, run_id, workflow, workflow_hash, status, started_at, updated_at, ended_at, reason, version, step_count'
type ListRow = [string, string, string, string, string, string, string, string | null, string | null, number, number]

/** The SQL a cost grouping groups by (fixed fragments: `by` never reaches the SQL as text). */
const COST_KEYS: Readonly<Record<CostQuery['by'], string>> = {
  tenant: 'tenant',
  workflow: 'workflow',
  run: 'run_id',
  step: "run_id || '/' || step_id",
  role: "coalesce(role, '-')",
  source: 'source',
  model: 'model',
}

/**
 * A listing's SQL and parameters. Keyset pagination on run ids (ULIDs: newest first), never
 * OFFSET; the caller asks for one row past the page to learn whether there is a next one, so no
 * COUNT(*). Every filter combination has an index that gives the order (test/conformance.test.ts
 * checks the plans).
 */
export function listRunsSql(query: ListRunsQuery, limit: number): { text: string; params: unknown[] } {
  const where = ['tenant = ?']
  const params: unknown[] = [query.tenant]
  const filter = (clause: string, value: unknown) => {
    where.push(clause)
    params.push(value)
  }
  if (query.status !== undefined) filter('status = ?', parseStatus(query.status))
  if (query.workflow !== undefined) filter('workflow = ?', query.workflow)
  if (query.startedFrom !== undefined) filter('started_key >= ?', instantKey(query.startedFrom, 'startedFrom'))
  if (query.startedBefore !== undefined) filter('started_key < ?', instantKey(query.startedBefore, 'startedBefore'))
  if (query.cursor !== undefined) filter('run_id < ?', decodeCursor(query.cursor))
  params.push(limit)
  return { text: `SELECT ${LIST_COLUMNS} FROM runs WHERE ${where.join(' AND ')} ORDER BY run_id DESC LIMIT ?`, params }
}

const RUN_COLUMNS =
  'tenant, run_id, workflow, workflow_hash, status, started_at, updated_at, ended_at, reason, version, steps_json'

/** The `meta` key of the feed position the index holds every event up to (see IndexStore.save). */
const FEED_POSITION = 'feed_position'

/** Raw prepared statements for the hot paths (rebuild saves and the projector's lookups). */
type SaveRequest = Parameters<IndexStore['save']>[0]

interface ProjectionRowRow {
  key: string
  stream: string
  version: number
  data_json: string
}

function prepare(db: Database.Database) {
  return {
    upsertRun: db.prepare<unknown[]>(
      `INSERT INTO runs (tenant, run_id, workflow, workflow_hash, status, started_at, started_key, updated_at,
         ended_at, reason, version, step_count, steps_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant, run_id) DO UPDATE SET workflow = excluded.workflow,
         workflow_hash = excluded.workflow_hash, status = excluded.status, started_at = excluded.started_at,
         started_key = excluded.started_key, updated_at = excluded.updated_at, ended_at = excluded.ended_at,
         reason = excluded.reason, version = excluded.version, step_count = excluded.step_count,
         steps_json = excluded.steps_json
       WHERE excluded.version >= runs.version`,
    ),
    insertCall: db.prepare<unknown[]>(
      `INSERT OR IGNORE INTO llm_calls (tenant, run_id, seq, at, at_key, workflow, step_id, role, source, model,
         input_tokens, output_tokens, cost) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertCheckpoint: db.prepare<unknown[]>(
      `INSERT INTO stream_checkpoints (tenant, stream, version, token) VALUES (?, ?, ?, ?)
       ON CONFLICT (tenant, stream) DO UPDATE SET version = excluded.version, token = excluded.token`,
    ),
    upsertMeta: db.prepare<[string, string]>(
      `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
    selectMeta: db.prepare<[string], { value: string }>(`SELECT value FROM meta WHERE key = ?`),
    projectedVersion: db.prepare<[string, string, string], { version: number }>(
      `SELECT MAX(version) AS version FROM projection_rows WHERE projection = ? AND tenant = ? AND stream = ?`,
    ),
    deleteProjected: db.prepare<[string, string, string]>(
      `DELETE FROM projection_rows WHERE projection = ? AND tenant = ? AND stream = ?`,
    ),
    upsertRow: db.prepare<[string, string, string, string, number, string]>(
      `INSERT INTO projection_rows (projection, tenant, key, stream, version, data_json) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (projection, tenant, key) DO UPDATE SET stream = excluded.stream, version = excluded.version,
         data_json = excluded.data_json`,
    ),
    selectRows: db.prepare<[string, string], ProjectionRowRow>(
      `SELECT key, stream, version, data_json FROM projection_rows WHERE projection = ? AND tenant = ? ORDER BY key`,
    ),
    selectRow: db.prepare<[string, string, string], ProjectionRowRow>(
      `SELECT key, stream, version, data_json FROM projection_rows WHERE projection = ? AND tenant = ? AND key = ?`,
    ),
    // json_each takes any number of ids as one parameter: one statement, no variable limit
    selectRuns: db.prepare<[string, string], RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE tenant = ? AND run_id IN (SELECT value FROM json_each(?))`,
    ),
  }
}

/** The index on one SQLite file. Open it with `openSqliteIndex`; see there for the file's settings. */
export class SqliteIndexStore implements IndexStore {
  readonly #db: Database.Database
  readonly #orm: BetterSQLite3Database<typeof schema>
  readonly #logger: Logger
  readonly #stmt: ReturnType<typeof prepare>
  readonly #saveTx: Database.Transaction<(request: Parameters<IndexStore['save']>[0]) => void>
  /** Prepared read statements by their text (see #statement). */
  readonly #statements = new Map<string, Database.Statement<unknown[]>>()
  #closed = false

  constructor(db: Database.Database, orm: BetterSQLite3Database<typeof schema>, logger: Logger) {
    this.#db = db
    this.#orm = orm
    this.#logger = logger
    this.#stmt = prepare(db)
    this.#saveTx = db.transaction((request) => this.#write(request))
  }

  async save(request: SaveRequest): Promise<void> {
    this.#open()
    const empty =
      request.runs.length === 0 &&
      request.checkpoints.length === 0 &&
      !request.llmCalls?.length &&
      !request.projected?.length
    if (empty && request.feedPosition === undefined) return
    // IMMEDIATE takes the write lock up front, so a second process waits (busy_timeout) instead of
    // failing to upgrade a read lock halfway through
    this.#saveTx.immediate(request)
  }

  #write(request: SaveRequest): void {
    const { upsertRun, upsertCheckpoint, insertCall } = this.#stmt
    for (const c of request.llmCalls ?? []) {
      insertCall.run(
        c.tenant,
        c.runId,
        c.seq,
        c.at,
        instantKey(c.at, `llmCalls[${c.runId}#${c.seq}].at`),
        c.workflow,
        c.stepId,
        c.role,
        c.source,
        c.model,
        c.inputTokens,
        c.outputTokens,
        c.cost,
      )
    }
    for (const r of request.runs) {
      const key = instantKey(r.startedAt, `runs[${r.runId}].startedAt`)
      upsertRun.run(
        r.tenant,
        r.runId,
        r.workflow,
        r.workflowHash,
        r.status,
        r.startedAt,
        key,
        r.updatedAt,
        r.endedAt,
        r.reason,
        r.version,
        r.steps.length,
        stepsToJson(r.steps),
      )
    }
    for (const c of request.checkpoints) upsertCheckpoint.run(c.tenant, c.stream, c.version, c.token)
    for (const p of request.projected ?? []) {
      const held = this.#stmt.projectedVersion.get(p.projection, p.tenant, p.stream)?.version ?? 0
      if (held > p.version) continue // another projector saw a later version of the stream
      this.#stmt.deleteProjected.run(p.projection, p.tenant, p.stream)
      for (const r of p.rows) {
        this.#stmt.upsertRow.run(p.projection, p.tenant, r.key, p.stream, p.version, JSON.stringify(r.data))
      }
    }
    if (request.feedPosition !== undefined) this.#stmt.upsertMeta.run(FEED_POSITION, request.feedPosition)
  }

  async rows(query: { projection: string; tenant: TenantId; key?: string }): Promise<StoredProjectionRow[]> {
    this.#open()
    const found =
      query.key === undefined
        ? this.#stmt.selectRows.all(query.projection, query.tenant)
        : this.#stmt.selectRow.all(query.projection, query.tenant, query.key)
    return found.map((r) => ({
      key: r.key,
      stream: r.stream as StreamId,
      version: r.version,
      data: JSON.parse(r.data_json) as Json,
    }))
  }

  async feedPosition(): Promise<FeedPosition | null> {
    this.#open()
    return (this.#stmt.selectMeta.get(FEED_POSITION)?.value as FeedPosition | undefined) ?? null
  }

  /** Steps come back in the order they were saved: the fold's order, first started first. */
  async getRuns(request: { tenant: TenantId; runIds: readonly RunId[] }): Promise<Map<RunId, RunSummary>> {
    this.#open()
    return this.#read(request.tenant, request.runIds)
  }

  async getRun(request: { tenant: TenantId; runId: RunId }): Promise<RunSummary | null> {
    this.#open()
    return this.#read(request.tenant, [request.runId]).get(request.runId) ?? null
  }

  #read(tenant: TenantId, runIds: readonly RunId[]): Map<RunId, RunSummary> {
    const out = new Map<RunId, RunSummary>()
    if (runIds.length === 0) return out
    const ids = JSON.stringify(runIds)
    for (const row of this.#stmt.selectRuns.all(tenant, ids)) {
      out.set(row.run_id as RunId, {
        tenant: row.tenant as TenantId,
        runId: row.run_id as RunId,
        workflow: row.workflow,
        workflowHash: row.workflow_hash,
        status: storedRunStatus(row.status, row.run_id),
        startedAt: row.started_at,
        updatedAt: row.updated_at,
        endedAt: row.ended_at,
        reason: row.reason,
        version: row.version,
        steps: stepsFromJson(row.steps_json, row.run_id),
      })
    }
    return out
  }

  async checkpoints(): Promise<StreamCheckpoint[]> {
    this.#open()
    const rows = this.#orm
      .select()
      .from(streamCheckpoints)
      .orderBy(asc(streamCheckpoints.tenant), asc(streamCheckpoints.stream))
      .all()
    return rows.map((r) => ({
      tenant: r.tenant as TenantId,
      stream: r.stream as StreamId,
      version: r.version,
      token: r.token,
    }))
  }

  async listRuns(query: ListRunsQuery): Promise<Page<RunListItem>> {
    this.#open()
    const limit = parseLimit(query.limit)
    const { text, params } = listRunsSql(query, limit + 1)
    const rows = this.#statement(text, 'arrays').all(...params) as ListRow[]
    const items: RunListItem[] = []
    for (let i = 0; i < rows.length && i < limit; i++) {
      const r = rows[i]!
      items.push({
        tenant: r[0] as TenantId,
        runId: r[1] as RunId,
        workflow: r[2],
        workflowHash: r[3],
        status: storedRunStatus(r[4], r[1]),
        startedAt: r[5],
        updatedAt: r[6],
        endedAt: r[7],
        reason: r[8],
        version: r[9],
        stepCount: r[10],
      })
    }
    const last = items.at(-1)
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.runId) : null }
  }

  async costs(query: CostQuery): Promise<CostRow[]> {
    this.#open()
    if (!(COST_DIMENSIONS as readonly string[]).includes(query.by)) {
      throw new ShiiooError(
        'INVALID_INPUT',
        `cannot group costs by "${String(query.by)}"; by one of ${COST_DIMENSIONS.join(', ')}`,
        { details: { field: 'by' } },
      )
    }
    const key = COST_KEYS[query.by]
    const where = ['tenant = ?']
    const params: unknown[] = [query.tenant]
    if (query.from !== undefined) {
      where.push('at_key >= ?')
      params.push(instantKey(query.from, 'from'))
    }
    if (query.before !== undefined) {
      where.push('at_key < ?')
      params.push(instantKey(query.before, 'before'))
    }
    if (query.runId !== undefined) {
      where.push('run_id = ?')
      params.push(query.runId)
    }
    const rows = this.#statement(
      `SELECT ${key} AS key, count(*) AS calls, sum(input_tokens) AS inputTokens,
         sum(output_tokens) AS outputTokens, sum(cost) AS cost
       FROM llm_calls WHERE ${where.join(' AND ')} GROUP BY ${key}`,
      'objects',
    ).all(...params) as CostRow[]
    return rows.sort((a, b) => b.cost - a.cost || (a.key < b.key ? -1 : 1))
  }

  /**
   * The prepared statement for `text`, prepared on first use. The texts are built from fixed
   * fragments (values are always parameters), so there are a few dozen at most: one per
   * combination of filters. Preparing costs more than running a page query, and drizzle's query
   * builder more again (together about two thirds of a listing's time before, at 100,000 runs).
   * A listing reads arrays: better-sqlite3 builds an object per row property by property, which
   * cost as much again as the query itself for a page of 50.
   */
  #statement(text: string, rows: 'objects' | 'arrays'): Database.Statement<unknown[]> {
    let stmt = this.#statements.get(text)
    if (stmt === undefined) {
      stmt = this.#db.prepare<unknown[]>(text).raw(rows === 'arrays')
      this.#statements.set(text, stmt)
    }
    return stmt
  }

  async reset(): Promise<void> {
    this.#open()
    this.#orm.transaction(
      (tx) => {
        tx.delete(runs).run()
        tx.delete(llmCalls).run()
        tx.delete(streamCheckpoints).run()
        tx.delete(meta).run()
        tx.delete(projectionRows).run()
      },
      { behavior: 'immediate' },
    )
    this.#logger.info('index reset')
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      // refreshes the planner's statistics (cheap, bounded) so it keeps choosing the right list index
      this.#db.pragma('optimize')
    } catch (err) {
      this.#logger.warn('PRAGMA optimize failed', { error: err instanceof Error ? err.message : String(err) })
    }
    this.#db.close()
  }

  #open(): void {
    if (this.#closed) throw new ShiiooError('UNAVAILABLE', 'the SQLite index is closed', { retryable: false })
  }
}
