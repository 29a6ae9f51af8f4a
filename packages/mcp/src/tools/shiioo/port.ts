import type { Json, RunStatus } from '@shiioo/core'
import type { ToolCaller } from '../../catalog/types.js'

/*
 * The views below name the fields Shiioo's tools promise (docs/tools.md) and page by; the
 * orchestrator answers with its own view models (RunView, EventView, ...), which hold these and
 * more, all plain JSON, and the tools hand them on whole. Type aliases rather than interfaces, so
 * that they are assignable to `Json`.
 */

/** A run: the orchestrator's run view (steps, decisions, input, output, error, cost, ...). */
export type ShiiooRun = {
  runId: string
  tenant: string
  workflow: { name: string; hash: string }
  status: RunStatus
  startedAt: string
  updatedAt: string
  endedAt: string | null
  /** The seq of the run's last event. */
  lastSeq: number
}

/** A run as of one of its events. */
export type ShiiooRunAt = ShiiooRun & { asOf: { seq: number; at: string } }

export type ShiiooRunPage = {
  items: ShiiooRun[]
  /** Pass it back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null
}

/** One event of a run's log: the stored envelope, with its type's `data`. */
export type ShiiooEvent = {
  id: string
  seq: number
  type: string
  at: string
  actor: { kind: string; id: string }
}

export type ShiiooEventPage = {
  events: ShiiooEvent[]
  /** Pass it back as `afterSeq` for the next page; null when these were the run's last events. */
  nextAfterSeq: number | null
}

/** A registered workflow name and its versions. */
export type ShiiooWorkflow = {
  name: string
  /** The current version's hash. */
  hash: string
  versions: Array<{ hash: string; current: boolean }>
}

export type ShiiooStartedRun = {
  runId: string
  workflow: { name: string; hash: string }
  /** True when the idempotency key named a run that already existed. */
  duplicate: boolean
  warnings: string[]
}

/** An approval step (or one foreach item of it) waiting for a decision. */
export type ShiiooPendingApproval = {
  runId: string
  workflow: { name: string; hash: string }
  stepId: string
  item: number | null
  prompt: string | null
  waitingSince: string | null
  deadline: string | null
}

export type ShiiooPendingApprovalPage = {
  items: ShiiooPendingApproval[]
  nextCursor: string | null
}

/** How many events one `runEvents` call answers: by default, and at most. */
export const SHIIOO_EVENTS_LIMIT = { default: 100, max: 1000 } as const

export interface ShiiooEventsRequest {
  /** Only events with a greater seq; default 0 (from the first). */
  afterSeq?: number
  /** At most this many events; default 100. */
  limit?: number
}

export interface ShiiooRunSearch {
  status?: RunStatus
  workflow?: string
  limit?: number
  cursor?: string
}

export interface ShiiooStartRequest {
  /** A registered workflow's name: its current version runs. */
  workflow: string
  input?: { [key: string]: Json }
  /** The same key with the same workflow and input answers the same run. */
  idempotencyKey?: string
}

export interface ShiiooApprovalsRequest {
  workflow?: string
  limit?: number
  cursor?: string
}

export interface ShiiooDecision {
  runId: string
  stepId: string
  /** The foreach item decided, for a per-item approval step. */
  item?: number
  decision: 'approve' | 'reject'
  comment?: string
}

/**
 * What Shiioo's own tools need of Shiioo, implemented by the orchestrator over its services
 * (`shiiooToolPort` in @shiioo/orchestrator). Each method acts as `caller`, whom the service
 * admits and audits as it does any edge's; the tools add no check of their own. Failures are the
 * services' ShiiooErrors: a run of another tenant is NOT_FOUND, like one that does not exist.
 */
export interface ShiiooToolPort {
  getRun(caller: ToolCaller, runId: string): Promise<ShiiooRun>
  runEvents(caller: ToolCaller, runId: string, request?: ShiiooEventsRequest): Promise<ShiiooEventPage>
  runState(caller: ToolCaller, runId: string, seq: number): Promise<ShiiooRunAt>
  searchRuns(caller: ToolCaller, request?: ShiiooRunSearch): Promise<ShiiooRunPage>
  /** The JSON value of a payload the run's events reference by blob hash. */
  getBlob(caller: ToolCaller, runId: string, hash: string): Promise<Json>
  listWorkflows(caller: ToolCaller): Promise<ShiiooWorkflow[]>
  startRun(caller: ToolCaller, request: ShiiooStartRequest): Promise<ShiiooStartedRun>
  cancelRun(caller: ToolCaller, runId: string, reason?: string): Promise<ShiiooRun>
  pendingApprovals(caller: ToolCaller, request?: ShiiooApprovalsRequest): Promise<ShiiooPendingApprovalPage>
  decideApproval(caller: ToolCaller, request: ShiiooDecision): Promise<ShiiooRun>
}
