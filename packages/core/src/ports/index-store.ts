import type { Json } from '../events/payload.js'
import type { RunId, StreamId, TenantId } from '../ids.js'
import type { FeedPosition } from './feed.js'
import type { RunStatus, RunSummary } from '../projection/run-summary.js'

export interface StreamCheckpoint {
  tenant: TenantId
  stream: StreamId
  /** Seq of the last event projected. */
  version: number
  /** The log's change token for the stream when it was last projected. */
  token: string
}

export interface ListRunsQuery {
  tenant: TenantId
  status?: RunStatus
  workflow?: string
  /** ISO instants, inclusive lower and exclusive upper bound on the run's start. */
  startedFrom?: string
  startedBefore?: string
  /** 1..500, default 50. */
  limit?: number
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string
}

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

/** One model call of an agent step (an `agent.turn` event), as the cost ledger keeps it. */
export interface LlmCall {
  tenant: TenantId
  runId: RunId
  /** The event's seq in the run: with tenant and run, the call's identity. */
  seq: number
  at: string
  workflow: string
  stepId: string
  role: string | null
  source: string
  model: string
  inputTokens: number
  outputTokens: number
  cost: number
}

export const COST_DIMENSIONS = ['tenant', 'workflow', 'run', 'step', 'role', 'source', 'model'] as const
export type CostDimension = (typeof COST_DIMENSIONS)[number]

export interface CostQuery {
  tenant: TenantId
  /** Group the calls by this (a step is keyed `<run>/<step>`). */
  by: CostDimension
  /** ISO instants: calls at or after `from` and before `before`. */
  from?: string
  before?: string
  /** Only this run's calls. */
  runId?: RunId
}

export interface CostRow {
  key: string
  calls: number
  inputTokens: number
  outputTokens: number
  cost: number
}

/** One row of a control-stream projection (see ControlProjection): a key within a tenant and its data. */
export interface ProjectionRow {
  key: string
  data: Json
}

/** What a control stream's projection holds, as of the stream's `version`. */
export interface ProjectedRows {
  projection: string
  tenant: TenantId
  stream: StreamId
  version: number
  rows: readonly ProjectionRow[]
}

export interface StoredProjectionRow extends ProjectionRow {
  stream: StreamId
  version: number
}

/** Run summaries without their steps, as lists return them. */
export type RunListItem = Omit<RunSummary, 'steps'> & { stepCount: number }

/**
 * The index: a projection of the streams, kept for fast queries and rebuildable from them.
 * Adapters store and query; the folding logic lives in core (`Projector`), shared by all.
 */
export interface IndexStore {
  getRuns(request: { tenant: TenantId; runIds: readonly RunId[] }): Promise<Map<RunId, RunSummary>>
  /**
   * Atomically upserts run summaries and stream checkpoints. A summary older (lower `version`) than
   * the stored one is ignored, so two projectors racing on one run cannot move it backwards.
   */
  save(request: {
    runs: readonly RunSummary[]
    checkpoints: readonly StreamCheckpoint[]
    /** Model calls to add to the cost ledger; one already there (same tenant, run and seq) is kept. */
    llmCalls?: readonly LlmCall[]
    /**
     * The feed position the index now holds every event up to, saved in the same transaction as
     * what it covers (replacing the one saved before).
     */
    feedPosition?: FeedPosition
    /**
     * Rows of control-stream projections: each replaces every row its projection holds from that
     * stream, unless the index already holds them from a later version of the stream.
     */
    projected?: readonly ProjectedRows[]
  }): Promise<void>
  /** A projection's rows in a tenant, by key (all of them, or the one `key`). */
  rows(query: { projection: string; tenant: TenantId; key?: string }): Promise<StoredProjectionRow[]>
  /** The cost ledger: calls, tokens and cost grouped by a dimension within a time window, costliest first. */
  costs(query: CostQuery): Promise<CostRow[]>
  checkpoints(): Promise<StreamCheckpoint[]>
  /** The feed position last saved (see `save`); null if none was, or since `reset`. */
  feedPosition(): Promise<FeedPosition | null>
  getRun(request: { tenant: TenantId; runId: RunId }): Promise<RunSummary | null>
  listRuns(query: ListRunsQuery): Promise<Page<RunListItem>>
  /** Deletes everything (the first step of a rebuild). */
  reset(): Promise<void>
  close(): Promise<void>
}
