import type { StepDefinition, StepKind, StepState, UnitState, UnitStatus, WaitFor } from '@shiioo/engine'
import type { Same } from '../same-type.js'
import type { CostView, ErrorView, PayloadView } from './payload.js'
import { spanMs, toErrorView, toPayloadView } from './payload.js'

export const STEP_VIEW_STATUSES = [
  'pending',
  'running',
  'waiting',
  'retrying',
  'completed',
  'failed',
  'skipped',
] as const
/** A step's (or a foreach item's) status; `pending` until an event names it. */
export type StepViewStatus = (typeof STEP_VIEW_STATUSES)[number]

export const STEP_VIEW_KINDS = ['agent', 'tool', 'approval', 'foreach', 'wait', 'subworkflow', 'transform'] as const
export type StepViewKind = (typeof STEP_VIEW_KINDS)[number]

export const WAIT_VIEW_KINDS = ['approval', 'timer', 'event', 'child'] as const
export type WaitViewKind = (typeof WAIT_VIEW_KINDS)[number]

const _statusesMatch: Same<StepViewStatus, UnitStatus> = true
const _kindsMatch: Same<StepViewKind, StepKind> = true
const _waitsMatch: Same<WaitViewKind, WaitFor> = true
void [_statusesMatch, _kindsMatch, _waitsMatch]

/** What a waiting unit waits for: a decision, a time, an external event or a child run. */
export interface WaitView {
  for: WaitViewKind
  /** The timer's (or the wait's deadline's) instant. */
  until: string | null
  /** The external event's name. */
  event: string | null
  childRunId: string | null
}

/** One model call of an agent attempt, with its prompt and reply (inline or by blob). */
export interface AgentTurnView {
  turn: number
  model: string
  /** The capacity source that served the call. */
  source: string
  usage: { inputTokens: number; outputTokens: number }
  cost: number
  request: PayloadView | null
  response: PayloadView | null
}

/** A step, or one item of a foreach step: its current (or last) attempt. */
export interface UnitView {
  status: StepViewStatus
  /** The number of the current (or last) attempt; 0 before the first one started. */
  attempts: number
  /** When the current attempt started. */
  startedAt: string | null
  endedAt: string | null
  /** From the current attempt's start to the end; null while it has not ended. */
  durationMs: number | null
  input: PayloadView | null
  output: PayloadView | null
  /** The last attempt's error (of a failed unit, or of one waiting to retry). */
  error: ErrorView | null
  retryAt: string | null
  wait: WaitView | null
  skipReason: string | null
  /** The run whose recorded output this unit reused (a fork). */
  reusedFrom: string | null
  /** The current attempt's model calls (agent steps). */
  turns: AgentTurnView[]
}

export interface StepView extends UnitView {
  stepId: string
  /** Null when the run's definition is not stored (the events do not say). */
  kind: StepViewKind | null
  /** A foreach step's body kind. */
  itemKind: StepViewKind | null
  /** A foreach step's items by index, once it started; null for other steps. */
  items: UnitView[] | null
  /** Every model call of the step (all attempts and items), from the cost ledger; null when none is known. */
  cost: CostView | null
}

const OPEN: ReadonlySet<StepViewStatus> = new Set(['pending', 'running', 'waiting', 'retrying'])

function turnView(t: UnitState['turns'][number]): AgentTurnView {
  return {
    turn: t.turn,
    model: t.model,
    source: t.source,
    usage: { inputTokens: t.usage.inputTokens, outputTokens: t.usage.outputTokens },
    cost: t.cost,
    request: toPayloadView(t.request),
    response: toPayloadView(t.response),
  }
}

const PENDING: UnitView = {
  status: 'pending',
  attempts: 0,
  startedAt: null,
  endedAt: null,
  durationMs: null,
  input: null,
  output: null,
  error: null,
  retryAt: null,
  wait: null,
  skipReason: null,
  reusedFrom: null,
  turns: [],
}

export function toUnitView(u: UnitState | undefined): UnitView {
  if (u === undefined) return { ...PENDING, turns: [] }
  return {
    status: u.status,
    attempts: u.attempt,
    startedAt: u.startedAt,
    endedAt: u.endedAt,
    durationMs: OPEN.has(u.status) ? null : spanMs(u.startedAt, u.endedAt),
    input: toPayloadView(u.input),
    output: toPayloadView(u.output),
    error: toErrorView(u.error),
    retryAt: u.retryAt,
    wait: u.wait ? { for: u.wait.for, until: u.wait.until, event: u.wait.event, childRunId: u.wait.childRunId } : null,
    skipReason: u.skipReason,
    reusedFrom: u.reusedFrom,
    turns: u.turns.map(turnView),
  }
}

export function toStepView(
  stepId: string,
  s: StepState | undefined,
  definition: StepDefinition | undefined,
  cost: CostView | null,
): StepView {
  return {
    stepId,
    kind: definition?.kind ?? null,
    itemKind: definition?.kind === 'foreach' ? definition.step.kind : null,
    ...toUnitView(s),
    items: s?.items ? s.items.map(toUnitView) : null,
    cost,
  }
}
