import type {
  CostDimension,
  CostRow,
  Json,
  Page,
  RunId,
  RunListItem,
  RunStatus,
  RunSummary,
  StoredEvent,
} from '@shiioo/core'
import type { EngineRunStatus, ReplayReport, RunState, WorkflowDefinition } from '@shiioo/engine'
import type { CallerContext } from '../caller.js'
import type { WorkflowSource } from '../workflow/source.js'
import type { FollowOptions, RunEventListener, RunFollower } from './follow.js'

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
  runId: RunId
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

export interface RunDetails {
  /** The index's summary; null when the index has not seen the run yet. */
  summary: RunSummary | null
  /** The run folded from its log: the truth, including steps that have not started. */
  state: RunState
  /** The definition the run is pinned to. */
  definition: WorkflowDefinition
  /** The run's output (read from its blob when stored apart), null until it completes. */
  output: Json | null
}

export interface DecisionCommand {
  stepId: string
  decision: 'approve' | 'reject'
  comment?: string
  /** The item of a foreach approval step. */
  item?: number
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
   * The runs the index listed as unfinished, now driven here, with their status as the engine took
   * them over (a paused run stays paused until resumed; one may already have ended, e.g. on a
   * step timeout that passed while no process drove it). `wait` gives each one's end.
   */
  resumed: Array<{
    runId: RunId
    status: EngineRunStatus
    /** The run's last seq before this process took it over: what follows is this process's work. */
    version: number
  }>
  /** Runs another live process drives (holds their lease): left to it; `wait` follows them. */
  elsewhere: RunId[]
  /** Runs that could not be resumed, and why. */
  failed: Array<{ runId: RunId; message: string }>
}

/**
 * Runs: the commands and queries every edge (CLI, REST, GraphQL, MCP) calls with its caller.
 * Run ids are taken as strings and checked here, so an edge cannot pass a malformed one through.
 */
export interface RunService {
  start(caller: CallerContext, command: StartRunCommand): Promise<StartedRun>
  list(caller: CallerContext, request?: RunListRequest): Promise<Page<RunListItem>>
  /** The cost ledger of the caller's tenant: model calls, tokens and cost grouped by a dimension. */
  costs(caller: CallerContext, query: CostRequest): Promise<CostRow[]>
  get(caller: CallerContext, runId: string): Promise<RunDetails>
  /** The run's state as of event `seq` (time travel). */
  stateAt(caller: CallerContext, runId: string, seq: number): Promise<RunState>
  events(caller: CallerContext, runId: string): Promise<StoredEvent[]>
  /** Delivers the run's events, then its appends as they become durable, until `stop()`. */
  follow(caller: CallerContext, runId: string, listener: RunEventListener, options?: FollowOptions): RunFollower
  /** Resolves with the run's final state, driving the run in this process if nothing here does. */
  wait(caller: CallerContext, runId: string): Promise<RunState>
  /** Re-decides a finished run against its recorded outputs, calling no agent or tool. */
  replay(caller: CallerContext, runId: string): Promise<ReplayReport>
  /** Starts a new run that re-executes from `fromStep`, reusing the recorded outputs before it. */
  fork(caller: CallerContext, runId: string, command: ForkCommand): Promise<StartedRun>
  cancel(caller: CallerContext, runId: string, reason?: string): Promise<RunState>
  pause(caller: CallerContext, runId: string, reason?: string): Promise<RunState>
  resumePaused(caller: CallerContext, runId: string): Promise<RunState>
  /** Records an approval decision; it may arrive before the step waits for it. */
  decide(caller: CallerContext, runId: string, decision: DecisionCommand): Promise<RunState>
  /** Records an external event for the run's wait steps. */
  signal(caller: CallerContext, runId: string, event: EventCommand): Promise<RunState>
  /** Catches the index up, then drives every run it lists as running or paused in this process. */
  resumeAll(caller: CallerContext): Promise<ResumeAllResult>
}
