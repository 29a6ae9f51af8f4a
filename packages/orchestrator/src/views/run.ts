import type { ActorKind, Json, RunListItem, RunStatus } from '@shiioo/core'
import type { RunState, WorkflowDefinition } from '@shiioo/engine'
import type { CostView, ErrorView, PayloadView } from './payload.js'
import { spanMs, toErrorView, toPayloadView } from './payload.js'
import type { StepView } from './step.js'
import { toStepView } from './step.js'

export type { RunStatus }

export interface DecisionView {
  stepId: string
  /** The foreach item decided, or null for the step itself. */
  item: number | null
  decision: 'approve' | 'reject'
  comment: string | null
  actor: { kind: ActorKind; id: string }
  at: string
  /** The seq of the `approval.decided` event. */
  seq: number
}

/** An external event the run received (`shiioo signal`). */
export interface ReceivedEventView {
  name: string
  payload: PayloadView | null
  at: string
  seq: number
}

/** What a listing and a full view of a run share. All instants are ISO-8601 UTC. */
export interface RunHeadView {
  runId: string
  tenant: string
  workflow: { name: string; hash: string }
  status: RunStatus
  /** Why the run is where it is, in words, as the index recorded it; null when the index does not say yet. */
  reason: string | null
  startedAt: string
  /** The time of the run's last event. */
  updatedAt: string
  endedAt: string | null
  durationMs: number | null
  /** The seq of the run's last event: how many events it has. */
  lastSeq: number
}

/** A run as API clients see it: folded from its events (the truth), with every step of its definition. */
export interface RunView extends RunHeadView {
  input: PayloadView | null
  output: PayloadView | null
  error: ErrorView | null
  failedStep: string | null
  cancelReason: string | null
  idempotencyKey: string | null
  parent: { runId: string; stepId: string | null; item: number | null } | null
  forkOf: { runId: string; fromStep: string } | null
  /**
   * False when the workflow definition (the blob named by `workflow.hash`) cannot be used: the run
   * can be inspected from its events, not continued, replayed or forked. `definitionProblem` says
   * why: the blob is not stored, or it is but its content no longer hashes to its key.
   */
  definitionStored: boolean
  definitionProblem: 'not-stored' | 'damaged' | null
  /**
   * `definition`: `steps` lists every step of the definition in order, pending ones included.
   * `events`: only the steps the events name, in the order they first appear (a state as of an
   * event, or a run whose definition is not stored).
   */
  stepsFrom: 'definition' | 'events'
  steps: StepView[]
  decisions: DecisionView[]
  receivedEvents: ReceivedEventView[]
  /** The run's model calls from the cost ledger; null when none is known. */
  cost: CostView | null
}

/** A run as of one of its events (time travel): steps are those named by then. */
export interface RunAtView extends RunView {
  asOf: { seq: number; at: string }
}

/** A run in a listing, from the index. */
export interface RunListItemView extends RunHeadView {
  /** Steps the run's events have named so far. */
  stepCount: number
}

export interface RunPageView {
  items: RunListItemView[]
  /** Pass it back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null
}

/** How a run ended, with its output value resolved: what a caller that waited for it wants. */
export interface RunOutcomeView {
  runId: string
  workflow: { name: string; hash: string }
  status: RunStatus
  output: Json | null
  error: ErrorView | null
  failedStep: string | null
  cancelReason: string | null
  startedAt: string
  endedAt: string | null
  durationMs: number | null
}

export interface RunViewSources {
  /** The run's definition, or null when it is not stored or damaged (`problem` says which). */
  definition: WorkflowDefinition | null
  problem?: 'not-stored' | 'damaged' | null
  stepsFrom: 'definition' | 'events'
  reason?: string | null
  /** Cost ledger rows by step id. */
  costs?: ReadonlyMap<string, CostView>
}

function sumCosts(costs: Iterable<CostView>): CostView | null {
  let total: CostView | null = null
  for (const c of costs) {
    total ??= { calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 }
    total.calls += c.calls
    total.inputTokens += c.inputTokens
    total.outputTokens += c.outputTokens
    total.cost += c.cost
  }
  return total
}

export function toRunView(state: RunState, sources: RunViewSources): RunView {
  const { definition } = sources
  const byId = new Map(definition?.steps.map((s) => [s.id, s]))
  const ids =
    sources.stepsFrom === 'definition' && definition ? definition.steps.map((s) => s.id) : Object.keys(state.steps)
  const costs = sources.costs ?? new Map<string, CostView>()
  return {
    runId: state.runId,
    tenant: state.tenant,
    workflow: { name: state.workflow.name, hash: state.workflow.hash },
    status: state.status,
    reason: sources.reason ?? null,
    startedAt: state.startedAt,
    updatedAt: state.updatedAt,
    endedAt: state.endedAt,
    durationMs: spanMs(state.startedAt, state.endedAt),
    lastSeq: state.version,
    input: toPayloadView(state.input),
    output: toPayloadView(state.output),
    error: toErrorView(state.error),
    failedStep: state.failedStep,
    cancelReason: state.cancelReason,
    idempotencyKey: state.idempotencyKey,
    parent: state.parent
      ? { runId: state.parent.runId, stepId: state.parent.stepId ?? null, item: state.parent.item ?? null }
      : null,
    forkOf: state.forkOf ? { runId: state.forkOf.runId, fromStep: state.forkOf.fromStep } : null,
    definitionStored: definition !== null,
    definitionProblem: definition !== null ? null : (sources.problem ?? 'not-stored'),
    stepsFrom: definition ? sources.stepsFrom : 'events',
    steps: ids.map((id) => toStepView(id, state.steps[id], byId.get(id), costs.get(id) ?? null)),
    decisions: state.decisions.map((d) => ({
      stepId: d.stepId,
      item: d.item ?? null,
      decision: d.decision,
      comment: d.comment ?? null,
      actor: { kind: d.actor.kind, id: d.actor.id },
      at: d.at,
      seq: d.seq,
    })),
    receivedEvents: state.events.map((e) => ({
      name: e.name,
      payload: toPayloadView(e.payload),
      at: e.at,
      seq: e.seq,
    })),
    cost: sumCosts(costs.values()),
  }
}

export function toRunAtView(
  state: RunState,
  of: { definition: WorkflowDefinition | null; problem: 'not-stored' | 'damaged' | null },
): RunAtView {
  return {
    ...toRunView(state, { ...of, stepsFrom: 'events' }),
    asOf: { seq: state.version, at: state.updatedAt },
  }
}

export function toRunListItemView(r: RunListItem): RunListItemView {
  return {
    runId: r.runId,
    tenant: r.tenant,
    workflow: { name: r.workflow, hash: r.workflowHash },
    status: r.status,
    reason: r.reason,
    startedAt: r.startedAt,
    updatedAt: r.updatedAt,
    endedAt: r.endedAt,
    durationMs: spanMs(r.startedAt, r.endedAt),
    lastSeq: r.version,
    stepCount: r.stepCount,
  }
}

export function toRunOutcomeView(state: RunState, output: Json | null): RunOutcomeView {
  return {
    runId: state.runId,
    workflow: { name: state.workflow.name, hash: state.workflow.hash },
    status: state.status,
    output,
    error: toErrorView(state.error),
    failedStep: state.failedStep,
    cancelReason: state.cancelReason,
    startedAt: state.startedAt,
    endedAt: state.endedAt,
    durationMs: spanMs(state.startedAt, state.endedAt),
  }
}
