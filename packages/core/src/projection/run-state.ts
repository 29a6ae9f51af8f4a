import type { Actor, StoredEvent } from '../events/envelope.js'
import type { ErrorInfo, Payload } from '../events/payload.js'
import { ShiiooError } from '../errors.js'
import type { RunId, TenantId } from '../ids.js'
import type { RunStatus } from './run-summary.js'

export const UNIT_STATUSES = ['pending', 'running', 'waiting', 'retrying', 'completed', 'failed', 'skipped'] as const
/** A unit is a step, or one item of a foreach step. */
export type UnitStatus = (typeof UNIT_STATUSES)[number]

export type WaitFor = 'approval' | 'timer' | 'event' | 'child'

export interface UnitState {
  status: UnitStatus
  /** The current (or last) attempt; 0 before the first start. */
  attempt: number
  idempotencyKey: string | null
  /** When the current attempt started. */
  startedAt: string | null
  /** When the first attempt started. */
  firstStartedAt: string | null
  endedAt: string | null
  input: Payload | null
  output: Payload | null
  error: ErrorInfo | null
  retryAt: string | null
  wait: { for: WaitFor; until: string | null; event: string | null; childRunId: string | null } | null
  skipReason: string | null
  reusedFrom: string | null
  /** An agent attempt's model turns so far, as recorded. */
  turns: AgentTurnState[]
  /** The tools an agent attempt's turns called so far, with their results, as recorded. */
  tools: AgentToolState[]
  /** Since when the attempt's model call has been waiting for capacity (null: it is not). */
  queuedSince: string | null
  /** Time the attempt's model calls spent waiting for capacity before now, in ms (not part of its timeout). */
  queuedMs: number
}

export interface AgentTurnState {
  turn: number
  model: string
  source: string
  usage: { inputTokens: number; outputTokens: number }
  cost: number
  request: Payload
  response: Payload
}

export interface AgentToolState {
  turn: number
  callId: string
  tool: string
  output: Payload | null
  error: ErrorInfo | null
}

export interface StepState extends UnitState {
  /** A foreach step's items, by index, once it started. */
  items: UnitState[] | null
}

export interface Decision {
  stepId: string
  item: number | undefined
  decision: 'approve' | 'reject'
  comment: string | undefined
  actor: Actor
  at: string
  seq: number
}

export interface ReceivedEvent {
  name: string
  payload: Payload | undefined
  at: string
  seq: number
}

/**
 * A run: the one fold of its events, used by the engine (to decide), the index (its summary, see
 * summarizeRun) and the services (their views). Pure: the same events always give the same state.
 */
export interface RunState {
  runId: RunId
  tenant: TenantId
  workflow: { name: string; hash: string }
  input: Payload | null
  idempotencyKey: string | null
  parent: { runId: string; stepId?: string | undefined; item?: number | undefined } | null
  forkOf: { runId: string; fromStep: string } | null
  status: RunStatus
  /** Seq of the last event folded in. */
  version: number
  startedAt: string
  updatedAt: string
  endedAt: string | null
  output: Payload | null
  error: ErrorInfo | null
  failedStep: string | null
  cancelReason: string | null
  steps: Record<string, StepState>
  decisions: Decision[]
  events: ReceivedEvent[]
}

export function isTerminal(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled'
}

export function isUnitDone(status: UnitStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'skipped'
}

export function newUnit(): UnitState {
  return {
    status: 'pending',
    attempt: 0,
    idempotencyKey: null,
    startedAt: null,
    firstStartedAt: null,
    endedAt: null,
    input: null,
    output: null,
    error: null,
    retryAt: null,
    wait: null,
    skipReason: null,
    reusedFrom: null,
    turns: [],
    tools: [],
    queuedSince: null,
    queuedMs: 0,
  }
}

function newStep(): StepState {
  const step = newUnit() as StepState
  step.items = null
  return step
}

/** The step's state; a step no event has named yet is pending. */
export function stepState(state: RunState, stepId: string): StepState {
  let s = Object.hasOwn(state.steps, stepId) ? state.steps[stepId] : undefined
  if (!s) {
    s = newStep()
    // a step may be named `__proto__`: made an own property even where `steps` has a prototype (a clone)
    if (stepId === '__proto__')
      Object.defineProperty(state.steps, stepId, { value: s, enumerable: true, writable: true, configurable: true })
    else state.steps[stepId] = s
  }
  return s
}

/** The unit a step event names: the step itself, or one of its foreach items. */
export function unitState(state: RunState, stepId: string, item: number | undefined): UnitState {
  const step = stepState(state, stepId)
  if (item === undefined) return step
  step.items ??= []
  while (step.items.length <= item) step.items.push(newUnit())
  return step.items[item]!
}

function corrupted(state: RunState | null, e: StoredEvent, why: string): ShiiooError {
  return new ShiiooError('DATA_CORRUPTED', `run ${state?.runId ?? e.stream} at seq ${e.seq} (${e.type}): ${why}`, {
    details: { seq: e.seq },
  })
}

function initialState(e: StoredEvent): RunState {
  if (e.type !== 'run.started' || e.seq !== 1) throw corrupted(null, e, 'a run begins with run.started at seq 1')
  return {
    runId: e.stream as RunId,
    tenant: e.tenant,
    workflow: { ...e.data.workflow },
    input: e.data.input ?? null,
    idempotencyKey: e.data.idempotencyKey ?? null,
    parent: e.data.parent ? { ...e.data.parent } : null,
    forkOf: e.data.forkOf ? { ...e.data.forkOf } : null,
    status: 'running',
    version: 1,
    startedAt: e.at,
    updatedAt: e.at,
    endedAt: null,
    output: null,
    error: null,
    failedStep: null,
    cancelReason: null,
    steps: Object.create(null) as Record<string, StepState>,
    decisions: [],
    events: [],
  }
}

/** Applies one event to a state the caller owns (mutates it). */
export function applyRunEvent(state: RunState, e: StoredEvent): void {
  if (e.seq !== state.version + 1) throw corrupted(state, e, `expected seq ${state.version + 1}`)
  if (isTerminal(state.status)) throw corrupted(state, e, `the run already ended (${state.status})`)
  state.version = e.seq
  state.updatedAt = e.at
  switch (e.type) {
    case 'run.started':
      throw corrupted(state, e, 'a second run.started')
    case 'step.started': {
      // assigned one by one, not with Object.assign: this runs for every step of every run
      const u = unitState(state, e.data.stepId, e.data.item)
      u.status = 'running'
      u.attempt = e.data.attempt
      u.idempotencyKey = e.data.idempotencyKey
      u.startedAt = e.at
      u.firstStartedAt ??= e.at
      u.input = e.data.input ?? null
      u.error = null
      u.retryAt = null
      u.wait = null
      u.turns = []
      u.tools = []
      u.queuedSince = null
      u.queuedMs = 0
      break
    }
    case 'step.waiting': {
      const u = unitState(state, e.data.stepId, e.data.item)
      u.status = 'waiting'
      u.wait = {
        for: e.data.for,
        until: e.data.until ?? null,
        event: e.data.event ?? null,
        childRunId: e.data.childRunId ?? null,
      }
      break
    }
    case 'step.completed': {
      const u = unitState(state, e.data.stepId, e.data.item)
      u.status = 'completed'
      u.attempt = e.data.attempt
      u.endedAt = e.at
      u.output = e.data.output ?? null
      u.error = null
      u.reusedFrom = e.data.reusedFrom ?? null
      break
    }
    case 'step.failed': {
      const u = unitState(state, e.data.stepId, e.data.item)
      u.status = e.data.willRetry ? 'retrying' : 'failed'
      u.attempt = e.data.attempt
      u.error = e.data.error
      u.retryAt = e.data.willRetry ? (e.data.retryAt ?? e.at) : null
      if (!e.data.willRetry) u.endedAt = e.at
      break
    }
    case 'step.skipped': {
      const u = unitState(state, e.data.stepId, e.data.item)
      u.status = 'skipped'
      u.skipReason = e.data.reason
      u.endedAt = e.at
      break
    }
    case 'agent.turn': {
      const u = unitState(state, e.data.stepId, e.data.item)
      const { stepId: _s, item: _i, attempt: _a, ...turn } = e.data
      if (e.data.attempt === u.attempt) u.turns.push(turn)
      break
    }
    case 'agent.tool': {
      const u = unitState(state, e.data.stepId, e.data.item)
      if (e.data.attempt !== u.attempt) break
      const { turn, callId, tool } = e.data
      u.tools.push({ turn, callId, tool, output: e.data.output ?? null, error: e.data.error ?? null })
      break
    }
    case 'agent.queued': {
      const u = unitState(state, e.data.stepId, e.data.item)
      if (e.data.attempt !== u.attempt) break
      if (e.data.state === 'waiting') u.queuedSince ??= e.at
      else if (u.queuedSince !== null) {
        u.queuedMs += Math.max(0, Date.parse(e.at) - Date.parse(u.queuedSince))
        u.queuedSince = null
      }
      break
    }
    case 'approval.decided':
      state.decisions.push({
        stepId: e.data.stepId,
        item: e.data.item,
        decision: e.data.decision,
        comment: e.data.comment,
        actor: e.actor,
        at: e.at,
        seq: e.seq,
      })
      break
    case 'event.received':
      state.events.push({ name: e.data.name, payload: e.data.payload, at: e.at, seq: e.seq })
      break
    case 'run.paused':
      state.status = 'paused'
      break
    case 'run.resumed':
      state.status = 'running'
      break
    case 'run.completed':
      state.status = 'completed'
      state.endedAt = e.at
      state.output = e.data.output ?? null
      break
    case 'run.failed':
      state.status = 'failed'
      state.endedAt = e.at
      state.error = e.data.error
      state.failedStep = e.data.failedStep ?? null
      break
    case 'run.cancelled':
      state.status = 'cancelled'
      state.endedAt = e.at
      state.cancelReason = e.data.reason
      break
    case 'idempotency.claimed':
    case 'workflow.registered':
    case 'audit.recorded':
    case 'principal.created':
    case 'roles.assigned':
    case 'principal.disabled':
    case 'token.created':
    case 'token.revoked':
      throw corrupted(state, e, 'a control event in a run stream')
    default: {
      const exhaustive: never = e
      throw corrupted(state, exhaustive, 'unknown event type')
    }
  }
}

/** Folds a run's events (from seq 1) into its state. */
export function foldRunState(events: readonly StoredEvent[]): RunState {
  const first = events[0]
  if (!first) throw new ShiiooError('NOT_FOUND', 'the run has no events')
  const state = initialState(first)
  for (let i = 1; i < events.length; i++) applyRunEvent(state, events[i]!)
  return state
}

/** A deep copy that a tentative decision may mutate without touching the original. */
export function cloneRunState(state: RunState): RunState {
  return structuredClone(state)
}
