import { RUN_STATUSES } from '@shiioo/core'
import type {
  AgentTurnView,
  CostRowView,
  CostView,
  DecisionView,
  ErrorView,
  ReceivedEventView,
  RunAtView,
  RunHeadView,
  RunListItemView,
  RunPageView,
  RunView,
  StartedRun,
  StepView,
  UnitView,
  WaitView,
} from '@shiioo/orchestrator'
import { STEP_VIEW_KINDS, STEP_VIEW_STATUSES, WAIT_VIEW_KINDS } from '@shiioo/orchestrator'
import type { Builder, FieldsOf } from './builder.js'
import type { EventTypes } from './event-types.js'

/** A unit that waits now, with the step (and foreach item) it belongs to. */
export interface RunWaitView {
  stepId: string
  item: number | null
  wait: WaitView
}

function waitsOf(run: RunView): RunWaitView[] {
  const waits: RunWaitView[] = []
  for (const step of run.steps) {
    if (step.wait && step.status === 'waiting') waits.push({ stepId: step.stepId, item: null, wait: step.wait })
    step.items?.forEach((unit, item) => {
      if (unit.wait && unit.status === 'waiting') waits.push({ stepId: step.stepId, item, wait: unit.wait })
    })
  }
  return waits
}

/**
 * A field builder of a view as one of the view it extends (a step as a unit, a run as its head),
 * for the fields they share: what they expose is there in both.
 */
function as<Base, T extends Base>(t: FieldsOf<T>): FieldsOf<Base> {
  return t as unknown as FieldsOf<Base>
}

/** The run, step and workflow types: the orchestrator's views as they are. */
export function runTypes(builder: Builder, events: EventTypes) {
  const RunStatus = builder.enumType('RunStatus', { values: RUN_STATUSES })
  const StepStatus = builder.enumType('StepStatus', { values: STEP_VIEW_STATUSES })
  const StepKind = builder.enumType('StepKind', { values: STEP_VIEW_KINDS })
  const WaitKind = builder.enumType('WaitKind', { values: WAIT_VIEW_KINDS })

  const WorkflowPin = builder.objectRef<{ name: string; hash: string }>('WorkflowPin').implement({
    description: 'A workflow name and the hash of the definition version a run uses.',
    fields: (t) => ({ name: t.exposeString('name'), hash: t.exposeString('hash') }),
  })
  const Failure = builder.objectRef<ErrorView>('Failure').implement({
    description: 'An error as recorded: a ShiiooError code or a step code (TIMEOUT, REJECTED, ...).',
    fields: (t) => ({
      code: t.exposeString('code'),
      message: t.exposeString('message'),
      retryable: t.exposeBoolean('retryable'),
    }),
  })
  const costFields = (t: FieldsOf<CostView>) => ({
    calls: t.exposeInt('calls'),
    inputTokens: t.exposeInt('inputTokens'),
    outputTokens: t.exposeInt('outputTokens'),
    cost: t.exposeFloat('cost'),
  })
  const Cost = builder.objectRef<CostView>('Cost').implement({
    description: 'Model calls and what they cost, from the cost ledger.',
    fields: costFields,
  })
  const CostRow = builder.objectRef<CostRowView>('CostRow').implement({
    description: 'One group of the cost ledger (`key`: a step as `<run>/<step>`, a model, a role, ...).',
    fields: (t) => ({ key: t.exposeString('key'), ...costFields(as(t)) }),
  })
  const Wait = builder.objectRef<WaitView>('Wait').implement({
    fields: (t) => ({
      for: t.expose('for', { type: WaitKind }),
      until: t.exposeString('until', { nullable: true }),
      event: t.exposeString('event', { nullable: true }),
      childRunId: t.exposeID('childRunId', { nullable: true }),
    }),
  })
  const AgentTurn = builder.objectRef<AgentTurnView>('AgentTurn').implement({
    fields: (t) => ({
      turn: t.exposeInt('turn'),
      model: t.exposeString('model'),
      source: t.exposeString('source'),
      inputTokens: t.int({ resolve: (turn) => turn.usage.inputTokens }),
      outputTokens: t.int({ resolve: (turn) => turn.usage.outputTokens }),
      cost: t.exposeFloat('cost'),
      request: t.expose('request', { type: 'JSON', nullable: true }),
      response: t.expose('response', { type: 'JSON', nullable: true }),
    }),
  })
  const unitFields = (t: FieldsOf<UnitView>) => ({
    status: t.expose('status', { type: StepStatus }),
    attempts: t.exposeInt('attempts'),
    startedAt: t.exposeString('startedAt', { nullable: true }),
    endedAt: t.exposeString('endedAt', { nullable: true }),
    durationMs: t.exposeFloat('durationMs', { nullable: true }),
    input: t.expose('input', { type: 'JSON', nullable: true }),
    output: t.expose('output', { type: 'JSON', nullable: true }),
    error: t.expose('error', { type: Failure, nullable: true }),
    retryAt: t.exposeString('retryAt', { nullable: true }),
    wait: t.expose('wait', { type: Wait, nullable: true }),
    skipReason: t.exposeString('skipReason', { nullable: true }),
    reusedFrom: t.exposeID('reusedFrom', { nullable: true }),
    turns: t.expose('turns', { type: [AgentTurn] }),
  })
  const Unit = builder.objectRef<UnitView>('Unit').implement({
    description: 'One item of a foreach step: its current (or last) attempt.',
    fields: unitFields,
  })
  const Step = builder.objectRef<StepView>('Step').implement({
    description: "A step of a run: its current (or last) attempt; a foreach step's items in `items`.",
    fields: (t) => ({
      stepId: t.exposeString('stepId'),
      kind: t.expose('kind', { type: StepKind, nullable: true }),
      itemKind: t.expose('itemKind', { type: StepKind, nullable: true }),
      ...unitFields(as(t)),
      items: t.expose('items', { type: [Unit], nullable: true }),
      cost: t.expose('cost', { type: Cost, nullable: true }),
    }),
  })
  const RunWait = builder.objectRef<RunWaitView>('RunWait').implement({
    description: 'A step (or foreach item) of the run waiting now, and what for.',
    fields: (t) => ({
      stepId: t.exposeString('stepId'),
      item: t.exposeInt('item', { nullable: true }),
      wait: t.expose('wait', { type: Wait }),
    }),
  })
  const Decision = builder.objectRef<DecisionView>('Decision').implement({
    fields: (t) => ({
      stepId: t.exposeString('stepId'),
      item: t.exposeInt('item', { nullable: true }),
      decision: t.exposeString('decision'),
      comment: t.exposeString('comment', { nullable: true }),
      actor: t.expose('actor', { type: events.Actor }),
      at: t.exposeString('at'),
      seq: t.exposeInt('seq'),
    }),
  })
  const ReceivedEvent = builder.objectRef<ReceivedEventView>('ReceivedEvent').implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      payload: t.expose('payload', { type: 'JSON', nullable: true }),
      at: t.exposeString('at'),
      seq: t.exposeInt('seq'),
    }),
  })

  const head = (t: FieldsOf<RunHeadView>) => ({
    runId: t.exposeID('runId'),
    tenant: t.exposeString('tenant'),
    workflow: t.expose('workflow', { type: WorkflowPin }),
    status: t.expose('status', { type: RunStatus }),
    reason: t.exposeString('reason', { nullable: true }),
    startedAt: t.exposeString('startedAt'),
    updatedAt: t.exposeString('updatedAt'),
    endedAt: t.exposeString('endedAt', { nullable: true }),
    durationMs: t.exposeFloat('durationMs', { nullable: true }),
    lastSeq: t.exposeInt('lastSeq'),
  })
  const runFields = (t: FieldsOf<RunView>) => ({
    ...head(as(t)),
    input: t.expose('input', { type: 'JSON', nullable: true }),
    output: t.expose('output', { type: 'JSON', nullable: true }),
    error: t.expose('error', { type: Failure, nullable: true }),
    failedStep: t.exposeString('failedStep', { nullable: true }),
    cancelReason: t.exposeString('cancelReason', { nullable: true }),
    idempotencyKey: t.exposeString('idempotencyKey', { nullable: true }),
    parent: t.expose('parent', { type: 'JSON', nullable: true }),
    forkOf: t.expose('forkOf', { type: 'JSON', nullable: true }),
    definitionStored: t.exposeBoolean('definitionStored'),
    steps: t.expose('steps', { type: [Step] }),
    step: t.field({
      type: Step,
      nullable: true,
      args: { id: t.arg.string({ required: true }) },
      resolve: (run, args) => run.steps.find((s) => s.stepId === args.id) ?? null,
    }),
    waits: t.field({ type: [RunWait], description: 'What the run waits for now.', resolve: waitsOf }),
    decisions: t.expose('decisions', { type: [Decision] }),
    receivedEvents: t.expose('receivedEvents', { type: [ReceivedEvent] }),
    cost: t.expose('cost', { type: Cost, nullable: true }),
    events: t.field({
      type: [events.Event],
      description: "The run's events in order.",
      resolve: (run, _args, ctx) => ctx.loaders.events.load(run.runId),
    }),
  })
  const Run = builder.objectRef<RunView>('Run').implement({
    description: 'A run folded from its events, with every step of its definition.',
    fields: runFields,
  })
  const RunAt = builder.objectRef<RunAtView>('RunAt').implement({
    description: 'A run as of one of its events (time travel): the steps named by then.',
    fields: (t) => ({
      ...runFields(as(t)),
      asOfSeq: t.int({ resolve: (run) => run.asOf.seq }),
      asOfAt: t.string({ resolve: (run) => run.asOf.at }),
    }),
  })
  const RunSummary = builder.objectRef<RunListItemView>('RunSummary').implement({
    description: 'A run in a listing, from the index; `run` reads the whole run (once per run per operation).',
    fields: (t) => ({
      ...head(as(t)),
      stepCount: t.exposeInt('stepCount'),
      run: t.field({ type: Run, resolve: (item, _args, ctx) => ctx.loaders.run.load(item.runId) }),
    }),
  })
  const RunPage = builder.objectRef<RunPageView>('RunPage').implement({
    fields: (t) => ({
      items: t.expose('items', { type: [RunSummary] }),
      nextCursor: t.exposeString('nextCursor', {
        nullable: true,
        description: 'Pass it as `after` for the next page; null on the last one.',
      }),
    }),
  })
  const StartedRunRef = builder.objectRef<StartedRun>('StartedRun').implement({
    fields: (t) => ({
      runId: t.exposeID('runId'),
      workflow: t.expose('workflow', { type: WorkflowPin }),
      duplicate: t.exposeBoolean('duplicate', { description: 'True when the idempotency key named an existing run.' }),
      warnings: t.exposeStringList('warnings'),
      run: t.field({ type: Run, resolve: (s, _args, ctx) => ctx.loaders.run.load(s.runId) }),
    }),
  })
  return { RunStatus, CostRow, Run, RunAt, RunPage, Step, StartedRun: StartedRunRef, WorkflowPin }
}

export type RunTypes = ReturnType<typeof runTypes>
