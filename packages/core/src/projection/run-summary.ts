import type { StoredEvent } from '../events/envelope.js'
import type { ErrorInfo } from '../events/payload.js'
import { ShiiooError } from '../errors.js'
import type { RunId, TenantId } from '../ids.js'

export const RUN_STATUSES = ['running', 'paused', 'completed', 'failed', 'cancelled'] as const
export type RunStatus = (typeof RUN_STATUSES)[number]

export const STEP_STATUSES = ['running', 'waiting', 'retrying', 'completed', 'failed', 'skipped'] as const
export type StepStatus = (typeof STEP_STATUSES)[number]

export interface StepSummary {
  stepId: string
  status: StepStatus
  attempts: number
  startedAt: string | null
  endedAt: string | null
  error: ErrorInfo | null
}

/** What the index knows about a run: a pure fold over the run's events. */
export interface RunSummary {
  tenant: TenantId
  runId: RunId
  workflow: string
  workflowHash: string
  status: RunStatus
  startedAt: string
  updatedAt: string
  endedAt: string | null
  /** Why the run ended the way it did, in words. */
  reason: string | null
  /** The run stream's version: seq of the last event folded in. */
  version: number
  steps: StepSummary[]
}

function stepOf(steps: StepSummary[], stepId: string): StepSummary {
  let s = steps.find((x) => x.stepId === stepId)
  if (!s) {
    s = { stepId, status: 'running', attempts: 0, startedAt: null, endedAt: null, error: null }
    steps.push(s)
  }
  return s
}

function cloneSummary(s: RunSummary): RunSummary {
  return { ...s, steps: s.steps.map((x) => ({ ...x })) }
}

function startSummary(e: StoredEvent): RunSummary {
  if (e.type !== 'run.started' || e.seq !== 1) {
    throw new ShiiooError(
      'DATA_CORRUPTED',
      `run ${e.stream} does not begin with run.started at seq 1 (found ${e.type} at ${e.seq})`,
    )
  }
  return {
    tenant: e.tenant,
    runId: e.stream as RunId,
    workflow: e.data.workflow.name,
    workflowHash: e.data.workflow.hash,
    status: 'running',
    startedAt: e.at,
    updatedAt: e.at,
    endedAt: null,
    reason: null,
    version: 1,
    steps: [],
  }
}

/** Applies one event to a summary the caller owns (mutates it). */
function applyEvent(next: RunSummary, e: StoredEvent): void {
  if (e.seq !== next.version + 1) {
    throw new ShiiooError('DATA_CORRUPTED', `run ${next.runId}: expected seq ${next.version + 1}, found ${e.seq}`)
  }
  next.version = e.seq
  next.updatedAt = e.at
  switch (e.type) {
    case 'run.started':
      throw new ShiiooError('DATA_CORRUPTED', `run ${next.runId} has a second run.started at seq ${e.seq}`)
    case 'step.started':
    case 'step.waiting':
    case 'step.completed':
    case 'step.failed':
    case 'step.skipped':
      // A foreach item's events move the foreach step's own status only through its own events.
      if (e.data.item === undefined) applyStepEvent(next, e)
      break
    case 'agent.turn':
    case 'approval.decided':
    case 'event.received':
      break
    case 'idempotency.claimed':
    case 'workflow.registered':
      throw new ShiiooError('DATA_CORRUPTED', `run ${next.runId} holds a control event (${e.type}) at seq ${e.seq}`)
    case 'run.paused':
      next.status = 'paused'
      break
    case 'run.resumed':
      next.status = 'running'
      break
    case 'run.completed':
      next.status = 'completed'
      next.endedAt = e.at
      next.reason = 'all steps completed'
      break
    case 'run.failed':
      next.status = 'failed'
      next.endedAt = e.at
      next.reason = e.data.failedStep
        ? `step ${e.data.failedStep} failed: ${e.data.error.message}`
        : e.data.error.message
      break
    case 'run.cancelled':
      next.status = 'cancelled'
      next.endedAt = e.at
      next.reason = e.data.reason
      break
    default: {
      const exhaustive: never = e
      throw new ShiiooError('DATA_CORRUPTED', `unhandled event type ${(exhaustive as StoredEvent).type}`)
    }
  }
}

type StepEvent = Extract<StoredEvent, { type: `step.${string}` }>

function applyStepEvent(next: RunSummary, e: StepEvent): void {
  const s = stepOf(next.steps, e.data.stepId)
  switch (e.type) {
    case 'step.started': {
      s.status = 'running'
      s.attempts = Math.max(s.attempts, e.data.attempt)
      s.startedAt ??= e.at
      s.error = null
      break
    }
    case 'step.completed': {
      s.status = 'completed'
      s.attempts = Math.max(s.attempts, e.data.attempt)
      s.endedAt = e.at
      s.error = null
      break
    }
    case 'step.failed': {
      s.status = e.data.willRetry ? 'retrying' : 'failed'
      s.attempts = Math.max(s.attempts, e.data.attempt)
      s.error = e.data.error
      if (!e.data.willRetry) s.endedAt = e.at
      break
    }
    case 'step.skipped': {
      s.status = 'skipped'
      s.endedAt = e.at
      break
    }
    case 'step.waiting':
      s.status = 'waiting'
      break
  }
}

/**
 * Folds one event into a run summary. Pure: returns a new summary, never mutates its input.
 * Events must arrive in seq order; a gap or a stray event is DATA_CORRUPTED.
 */
export function foldRunSummary(current: RunSummary | null, e: StoredEvent): RunSummary {
  if (current === null) return startSummary(e)
  const next = cloneSummary(current)
  applyEvent(next, e)
  return next
}

/** Folds events into a summary (copying `from` once, not per event). Pure like foldRunSummary. */
export function foldRun(events: readonly StoredEvent[], from: RunSummary | null = null): RunSummary | null {
  if (events.length === 0) return from
  let i = 0
  let s: RunSummary
  if (from === null) {
    s = startSummary(events[0]!)
    i = 1
  } else {
    s = cloneSummary(from)
  }
  for (; i < events.length; i++) applyEvent(s, events[i]!)
  return s
}
