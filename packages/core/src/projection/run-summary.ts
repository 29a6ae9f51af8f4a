import type { StoredEvent } from '../events/envelope.js'
import type { ErrorInfo } from '../events/payload.js'
import type { RunId, TenantId } from '../ids.js'
import type { RunState, UnitStatus } from './run-state.js'
import { foldRunState } from './run-state.js'

export const RUN_STATUSES = ['running', 'paused', 'completed', 'failed', 'cancelled'] as const
export type RunStatus = (typeof RUN_STATUSES)[number]

export const STEP_STATUSES = ['running', 'waiting', 'retrying', 'completed', 'failed', 'skipped'] as const
export type StepStatus = (typeof STEP_STATUSES)[number]

export interface StepSummary {
  stepId: string
  status: StepStatus
  attempts: number
  /** When its first attempt started. */
  startedAt: string | null
  endedAt: string | null
  error: ErrorInfo | null
}

/** What the index knows about a run: a summary of its state (summarizeRun). */
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

const SUMMARY_STEP: Readonly<Record<UnitStatus, StepStatus | null>> = {
  // a step only its foreach items named so far: not a step of the summary yet
  pending: null,
  running: 'running',
  waiting: 'waiting',
  retrying: 'retrying',
  completed: 'completed',
  failed: 'failed',
  skipped: 'skipped',
}

function why(state: RunState): string | null {
  switch (state.status) {
    case 'completed':
      return 'all steps completed'
    case 'failed':
      return state.failedStep
        ? `step ${state.failedStep} failed: ${state.error?.message ?? 'no error recorded'}`
        : (state.error?.message ?? 'no error recorded')
    case 'cancelled':
      return state.cancelReason
    case 'running':
    case 'paused':
      return null
  }
}

/** What the index keeps of a run: derived from its one fold (see run-state.ts), never folded apart. */
export function summarizeRun(state: RunState): RunSummary {
  const steps: StepSummary[] = []
  for (const [stepId, s] of Object.entries(state.steps)) {
    const status = SUMMARY_STEP[s.status]
    if (status === null) continue
    steps.push({ stepId, status, attempts: s.attempt, startedAt: s.firstStartedAt, endedAt: s.endedAt, error: s.error })
  }
  return {
    tenant: state.tenant,
    runId: state.runId,
    workflow: state.workflow.name,
    workflowHash: state.workflow.hash,
    status: state.status,
    startedAt: state.startedAt,
    updatedAt: state.updatedAt,
    endedAt: state.endedAt,
    reason: why(state),
    version: state.version,
    steps,
  }
}

/**
 * Folds a run's events (from seq 1) and summarizes it. A gap, a stray or a late event is
 * DATA_CORRUPTED, exactly as for every other reader of the run.
 */
export function foldRun(events: readonly StoredEvent[]): RunSummary | null {
  return events.length === 0 ? null : summarizeRun(foldRunState(events))
}
