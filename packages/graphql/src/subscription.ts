import type { AgentTextView, AuditEntryView, LiveEventView, LiveRequest, RunView, StepView } from '@shiioo/orchestrator'
import { given } from './args.js'
import type { AuditTypes } from './audit-types.js'
import type { Builder } from './builder.js'
import type { GraphQLContext, GraphQLServices } from './context.js'
import { forgetReads } from './context.js'
import type { EventTypes } from './event-types.js'
import type { LiveItem } from './live.js'
import { liveItems } from './live.js'
import type { RunTypes } from './run-types.js'

interface Types {
  runs: RunTypes
  events: EventTypes
  audit: AuditTypes
}

/** The events that change a step, each naming it in `data.stepId`. */
const STEP_EVENT_TYPES = [
  'step.started',
  'step.waiting',
  'step.completed',
  'step.failed',
  'step.skipped',
  'agent.queued',
  'agent.turn',
  'agent.tool',
  'approval.decided',
] as const

interface StepData {
  stepId: string
  item?: number
  prompt?: string
}
const stepData = (e: LiveEventView) => e.event.data as StepData

/** The run of an event as it is now (a subscription's operation lives long: each payload reads it afresh). */
const runNow = (e: LiveEventView, ctx: GraphQLContext): Promise<RunView> | null =>
  e.runId === null ? null : ctx.loaders.run.load(e.runId)

/**
 * Subscriptions: the live service's events as they become durable, resumable after a position,
 * admitted exactly as the queries over the same data are (by the service).
 */
export function subscriptionType(builder: Builder, services: GraphQLServices, types: Types) {
  const { runs, events, audit } = types
  const RunUpdate = builder.objectRef<LiveEventView>('RunUpdate').implement({
    description: 'An event of a run; resume after `position` to continue with the next one.',
    fields: (t) => ({
      position: t.exposeString('position'),
      runId: t.id({ resolve: (e) => e.runId! }),
      event: t.expose('event', { type: events.Event }),
      run: t.field({ type: runs.Run, description: 'The run as it is now.', resolve: (e, _a, ctx) => runNow(e, ctx)! }),
    }),
  })
  const StepUpdate = builder.objectRef<LiveEventView>('StepUpdate').implement({
    description:
      'An event that changes a step (started, waiting, completed, failed, skipped, a model call, a decision).',
    fields: (t) => ({
      position: t.exposeString('position'),
      runId: t.id({ resolve: (e) => e.runId! }),
      stepId: t.string({ resolve: (e) => stepData(e).stepId }),
      item: t.int({ nullable: true, resolve: (e) => stepData(e).item ?? null }),
      event: t.expose('event', { type: events.Event }),
      step: t.field({
        type: runs.Step,
        nullable: true,
        description: 'The step as it is now.',
        resolve: async (e, _a, ctx): Promise<StepView | null> =>
          (await runNow(e, ctx))!.steps.find((s) => s.stepId === stepData(e).stepId) ?? null,
      }),
    }),
  })
  const ApprovalWaiting = builder.objectRef<LiveEventView>('ApprovalWaiting').implement({
    description: 'A step (or foreach item) that began waiting for an approval decision.',
    fields: (t) => ({
      position: t.exposeString('position'),
      runId: t.id({ resolve: (e) => e.runId! }),
      stepId: t.string({ resolve: (e) => stepData(e).stepId }),
      item: t.int({ nullable: true, resolve: (e) => stepData(e).item ?? null }),
      prompt: t.string({ nullable: true, resolve: (e) => stepData(e).prompt ?? null }),
      at: t.string({ resolve: (e) => e.event.at }),
      run: t.field({ type: runs.Run, description: 'The run as it is now.', resolve: (e, _a, ctx) => runNow(e, ctx)! }),
    }),
  })
  const AuditUpdate = builder.objectRef<LiveEventView>('AuditUpdate').implement({
    description: 'An entry appended to the tenant audit chain.',
    fields: (t) => ({
      position: t.exposeString('position'),
      entry: t.field({ type: audit.AuditEntry, resolve: (e) => e.event.data as AuditEntryView }),
    }),
  })

  const AgentText = builder.objectRef<AgentTextView>('AgentText').implement({
    description:
      'A piece of an agent reply as the model produces it. Live only: not stored and not resumable (the recorded `agent.turn` event holds the whole reply), and only from runs this server drives.',
    fields: (t) => ({
      runId: t.id({ resolve: (d) => d.runId }),
      stepId: t.exposeString('stepId'),
      item: t.exposeInt('item', { nullable: true }),
      attempt: t.exposeInt('attempt'),
      turn: t.exposeInt('turn'),
      call: t.exposeInt('call', {
        description: 'Which model call of the turn; after a failover the text of the turn starts again.',
      }),
      source: t.exposeString('source', { description: 'The capacity source answering.' }),
      delta: t.exposeString('delta'),
      skipped: t.exposeInt('skipped', {
        description: 'Pieces this subscriber missed just before this one because it fell too far behind.',
      }),
    }),
  })
  const textPayload = (item: LiveItem<AgentTextView>): AgentTextView => {
    if ('error' in item) throw item.error
    return item.event
  }

  /** Subscribes through the live service; `keep` drops what the feed's filters cannot express. */
  const live = async (ctx: GraphQLContext, request: LiveRequest, keep?: (e: LiveEventView) => boolean) => {
    const stop = new AbortController()
    return liveItems(await services.live.subscribe(ctx.caller, request, stop.signal), stop, keep)
  }
  /** Each payload: the event, or the feed's error as the last payload's GraphQL error. */
  const payload = (item: LiveItem, _args: unknown, ctx: GraphQLContext): LiveEventView => {
    if ('error' in item) throw item.error
    forgetReads(ctx)
    return item.event
  }
  builder.subscriptionType({
    fields: (t) => {
      const afterArg = () =>
        t.arg.string({
          description:
            'Resume after this position (a previous payload\'s; no gap, no duplicate), or "start", or "now" (the default).',
        })
      return {
        runUpdates: t.field({
          type: RunUpdate,
          description: "Every event of one run (`runId`), or of all the tenant's runs.",
          args: {
            runId: t.arg.id(),
            after: afterArg(),
            types: t.arg.stringList({ description: 'Only these event types.' }),
          },
          subscribe: (_root, args, ctx) =>
            live(ctx, {
              scope: args.runId == null ? { kind: 'runs' } : { kind: 'run', runId: String(args.runId) },
              ...given({ after: args.after, types: args.types }),
            }),
          resolve: payload,
        }),
        stepUpdates: t.field({
          type: StepUpdate,
          description:
            "Changes to the steps of one run (`runId`, or one step of it with `stepId`), or of all the tenant's runs.",
          args: { runId: t.arg.id(), stepId: t.arg.string(), after: afterArg() },
          subscribe: (_root, args, ctx) =>
            live(
              ctx,
              {
                scope: args.runId == null ? { kind: 'runs' } : { kind: 'run', runId: String(args.runId) },
                types: STEP_EVENT_TYPES,
                ...given({ after: args.after }),
              },
              args.stepId == null ? undefined : (e) => stepData(e).stepId === args.stepId,
            ),
          resolve: payload,
        }),
        approvalsWaiting: t.field({
          type: ApprovalWaiting,
          description: 'Steps of the tenant runs that begin waiting for an approval decision.',
          args: { after: afterArg() },
          subscribe: (_root, args, ctx) => live(ctx, { scope: { kind: 'approvals' }, ...given({ after: args.after }) }),
          resolve: payload,
        }),
        agentText: t.field({
          type: AgentText,
          description:
            "Agents' text as the model produces it: of one run (`runId`), or of all the tenant's runs, from now on.",
          args: { runId: t.arg.id() },
          subscribe: async (_root, args, ctx) => {
            const stop = new AbortController()
            const request = args.runId == null ? {} : { runId: String(args.runId) }
            return liveItems(await services.live.agentText(ctx.caller, request, stop.signal), stop)
          },
          resolve: textPayload,
        }),
        auditEntries: t.field({
          type: AuditUpdate,
          description: 'Entries appended to the tenant audit chain.',
          args: { after: afterArg() },
          subscribe: (_root, args, ctx) => live(ctx, { scope: { kind: 'audit' }, ...given({ after: args.after }) }),
          resolve: payload,
        }),
      }
    },
  })
}
