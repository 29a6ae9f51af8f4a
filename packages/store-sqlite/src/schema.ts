import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/**
 * The index schema. Migrations in ../drizzle are generated from this file with
 * `pnpm --filter @shiioo/store-sqlite db:generate` and committed; never edit an applied migration.
 *
 * Instants are kept verbatim (`started_at`, ...) so summaries round-trip exactly; `started_key` is the
 * same start instant in a fixed-width UTC form (nanosecond fraction) so that text order is time order
 * whatever precision the original carried, and time-window filters compare instants, not strings.
 */
export const runs = sqliteTable(
  'runs',
  {
    tenant: text('tenant').notNull(),
    runId: text('run_id').notNull(),
    workflow: text('workflow').notNull(),
    workflowHash: text('workflow_hash').notNull(),
    status: text('status', { enum: ['running', 'paused', 'completed', 'failed', 'cancelled'] }).notNull(),
    startedAt: text('started_at').notNull(),
    startedKey: text('started_key').notNull(),
    updatedAt: text('updated_at').notNull(),
    endedAt: text('ended_at'),
    reason: text('reason'),
    version: integer('version').notNull(),
    stepCount: integer('step_count').notNull(),
    /** The run's StepSummary[] as JSON: steps are always read and written with their run. */
    stepsJson: text('steps_json').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.runId] }),
    index('runs_tenant_status_run_idx').on(t.tenant, t.status, t.runId),
    index('runs_tenant_workflow_run_idx').on(t.tenant, t.workflow, t.runId),
    // both filters: without it one of them is checked row by row, a scan of every run of the
    // workflow when few have the status (or the other way round)
    index('runs_tenant_status_workflow_run_idx').on(t.tenant, t.status, t.workflow, t.runId),
    index('runs_tenant_started_run_idx').on(t.tenant, t.startedKey, t.runId),
  ],
)

export const streamCheckpoints = sqliteTable(
  'stream_checkpoints',
  {
    tenant: text('tenant').notNull(),
    stream: text('stream').notNull(),
    version: integer('version').notNull(),
    token: text('token').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.stream] })],
)

/** The cost ledger: one row per model call (`agent.turn`), grouped by queries over time windows. */
export const llmCalls = sqliteTable(
  'llm_calls',
  {
    tenant: text('tenant').notNull(),
    runId: text('run_id').notNull(),
    seq: integer('seq').notNull(),
    at: text('at').notNull(),
    /** `at` in the fixed-width form of `started_key`, for time-window filters. */
    atKey: text('at_key').notNull(),
    workflow: text('workflow').notNull(),
    stepId: text('step_id').notNull(),
    role: text('role'),
    source: text('source').notNull(),
    model: text('model').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    cost: real('cost').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.runId, t.seq] }), index('llm_calls_tenant_at_idx').on(t.tenant, t.atKey)],
)

export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

/**
 * Read models of control streams (workflows, and the features' streams as they arrive): each
 * projection keeps rows keyed within a tenant, written with the version of the stream they come
 * from (a stream's rows are replaced as a whole, never by an older version of it).
 */
export const projectionRows = sqliteTable(
  'projection_rows',
  {
    projection: text('projection').notNull(),
    tenant: text('tenant').notNull(),
    key: text('key').notNull(),
    stream: text('stream').notNull(),
    version: integer('version').notNull(),
    dataJson: text('data_json').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projection, t.tenant, t.key] }),
    index('projection_rows_stream_idx').on(t.projection, t.tenant, t.stream),
  ],
)
