import type { CostDimension, CostRow, Json, RunStatus } from '@shiioo/core'
import type { CallerContext } from '../caller.js'
import type { EventView } from '../views/event.js'
import type { ReplayReportView } from '../views/replay.js'
import type { RunAtView, RunOutcomeView, RunPageView, RunView } from '../views/run.js'
import type { WorkflowSource } from '../workflow/source.js'
import type { FollowOptions, RunFollower } from './follow.js'

export interface StartRunCommand {
  source: WorkflowSource
  input?: Readonly<Record<string, unknown>>
  /** The same key with the same workflow and input returns the same run; with others it is refused. */
  idempotencyKey?: string
  /**
   * Workflows to register (as the current version of their names) before the run starts, so its
   * sub-workflow steps find them: e.g. the other files of the started file's directory. One that
   * does not validate is left out with a warning; the run is refused only if it needs it.
   */
  workflows?: readonly WorkflowSource[]
}

export interface StartedRun {
  runId: string
  workflow: { name: string; hash: string }
  /** True when the idempotency key named a run that already existed. */
  duplicate: boolean
  /** Workflows of `workflows` that were left out, and why. */
  warnings: string[]
}

export interface RunListRequest {
  status?: RunStatus
  workflow?: string
  /** 1..500, default 50. */
  limit?: number
  /** From a previous page's `nextCursor`. */
  cursor?: string
}

export interface CostRequest {
  by: CostDimension
  /** ISO instants: calls at or after `from`, before `before`. */
  from?: string
  before?: string
  runId?: string
}

/** One group of the cost ledger (`key` is a step as `<run>/<step>`, a model, a role, ...). */
export type CostRowView = CostRow

export interface DecisionCommand {
  stepId: string
  decision: 'approve' | 'reject'
  comment?: string
  /** The item of a foreach approval step. */
  item?: number
}

export interface EventsRequest {
  /** Only events with a greater seq (a whole number from 0). */
  after?: number
}

export interface EventCommand {
  name: string
  payload?: Json
}

export interface ForkCommand {
  /** The first step to execute again; the steps before it keep their recorded outputs. */
  fromStep: string
}

export interface ResumeAllResult {
  /**
   * The runs the index listed as unfinished, now driven here, with their status as this process
   * took them over (a paused run stays paused until resumed; one may already have ended, e.g. on a
   * step timeout that passed while no process drove it). `wait` gives each one's end.
   */
  resumed: Array<{
    runId: string
    status: RunStatus
    /** The run's last seq before this process took it over: what follows is this process's work. */
    lastSeq: number
  }>
  /** Runs another live process drives: left to it; `wait` follows them. */
  elsewhere: string[]
  /** Runs that could not be resumed, and why. */
  failed: Array<{ runId: string; message: string }>
}

/** Receives a run's events in seq order, each once. */
export type EventViewListener = (events: readonly EventView[]) => void

/**
 * Runs: the commands and queries every edge (CLI, REST, GraphQL, MCP) calls with its caller.
 * Run ids are taken as strings and checked here, so an edge cannot pass a malformed one through.
 * Each method names its action and the run (or the tenant) to the gate before anything else.
 */
export interface RunService {
  start(caller: CallerContext, command: StartRunCommand): Promise<StartedRun>
  list(caller: CallerContext, request?: RunListRequest): Promise<RunPageView>
  /** The cost ledger of the caller's tenant: model calls, tokens and cost grouped by a dimension. */
  costs(caller: CallerContext, query: CostRequest): Promise<CostRowView[]>
  /**
   * The run folded from its log, every step of its definition in order. A run whose definition
   * is not stored is shown as its events hold it (`definitionStored: false`).
   */
  get(caller: CallerContext, runId: string): Promise<RunView>
  /** The run as of event `seq` (time travel). */
  stateAt(caller: CallerContext, runId: string, seq: number): Promise<RunAtView>
  /** The run's events in order (those after seq `after`, when given). */
  events(caller: CallerContext, runId: string, options?: EventsRequest): Promise<EventView[]>
  /** The JSON value of a payload the run's events reference by blob (`{ blob, size, contentType }`). */
  payload(caller: CallerContext, runId: string, blob: string): Promise<Json>
  /** Delivers the run's events, then its appends as they become durable, until `stop()`. */
  follow(caller: CallerContext, runId: string, listener: EventViewListener, options?: FollowOptions): RunFollower
  /** Resolves with how the run ended, driving the run in this process if no live process does. */
  wait(caller: CallerContext, runId: string): Promise<RunOutcomeView>
  /** Re-decides a finished run against its recorded outputs, calling no agent or tool. */
  replay(caller: CallerContext, runId: string): Promise<ReplayReportView>
  /** Starts a new run that re-executes from `fromStep`, reusing the recorded outputs before it. */
  fork(caller: CallerContext, runId: string, command: ForkCommand): Promise<StartedRun>
  cancel(caller: CallerContext, runId: string, reason?: string): Promise<RunView>
  pause(caller: CallerContext, runId: string, reason?: string): Promise<RunView>
  resumePaused(caller: CallerContext, runId: string): Promise<RunView>
  /** Records an approval decision; it may arrive before the step waits for it. */
  decide(caller: CallerContext, runId: string, decision: DecisionCommand): Promise<RunView>
  /** Records an external event for the run's wait steps. */
  signal(caller: CallerContext, runId: string, event: EventCommand): Promise<RunView>
  /**
   * Catches the index up, then drives here every run of the caller's tenant it lists as running
   * or paused that no live process drives.
   */
  resumeAll(caller: CallerContext): Promise<ResumeAllResult>
}
