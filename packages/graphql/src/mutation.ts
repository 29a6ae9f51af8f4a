import type { Json } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import type { RegisteredWorkflowView, WorkflowSource } from '@shiioo/orchestrator'
import { WORKFLOW_FORMATS } from '@shiioo/orchestrator'
import { given } from './args.js'
import type { Builder } from './builder.js'
import type { GraphQLServices } from './context.js'
import type { RunTypes } from './run-types.js'

interface SourceInput {
  text?: string | null
  format?: (typeof WORKFLOW_FORMATS)[number] | null
  definition?: unknown
  origin?: string | null
}

/** Exactly one of text (YAML or JSON) and a parsed definition. */
function sourceOf(input: SourceInput): WorkflowSource {
  const { text, format, definition, origin } = input
  const hasText = text !== null && text !== undefined
  const hasDefinition = definition !== null && definition !== undefined
  if (hasText === hasDefinition) {
    throw new ShiiooError('INVALID_INPUT', 'workflow needs exactly one of text and definition', {
      details: { field: 'workflow' },
    })
  }
  return hasText ? { text, ...given({ format, origin }) } : { definition, ...given({ origin }) }
}

function objectOf(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ShiiooError('INVALID_INPUT', `${field} must be a JSON object`, { details: { field } })
  }
  return value as Record<string, unknown>
}

/** Mutations: each calls one service command with the caller; authorization and audit happen there. */
export function mutationType(builder: Builder, services: GraphQLServices, types: { runs: RunTypes }) {
  const { runs } = types
  const { Run, StartedRun } = runs
  const WorkflowFormat = builder.enumType('WorkflowFormat', { values: WORKFLOW_FORMATS })
  const Decision = builder.enumType('ApprovalDecision', { values: ['approve', 'reject'] as const })
  const WorkflowSourceInput = builder.inputType('WorkflowSourceInput', {
    description: 'A workflow definition: exactly one of `text` (YAML or JSON) and `definition` (a parsed object).',
    fields: (t) => ({
      text: t.string(),
      format: t.field({ type: WorkflowFormat }),
      definition: t.field({ type: 'JSON' }),
      origin: t.string({ description: 'Where it came from (a file name), for error messages.' }),
    }),
  })
  const RegisteredWorkflow = builder.objectRef<RegisteredWorkflowView>('RegisteredWorkflow').implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      hash: t.exposeString('hash'),
      changed: t.exposeBoolean('changed', { description: 'False when it already was the current version.' }),
    }),
  })

  builder.mutationType({
    fields: (t) => ({
      startRun: t.field({
        type: StartedRun,
        description: 'Starts a run; the same idempotency key with the same workflow and input returns the same run.',
        args: {
          workflow: t.arg({ type: WorkflowSourceInput, required: true }),
          input: t.arg({ type: 'JSON' }),
          idempotencyKey: t.arg.string(),
        },
        resolve: (_root, args, ctx) => {
          const input = objectOf(args.input, 'input')
          return services.runs.start(ctx.caller, {
            source: sourceOf(args.workflow),
            ...given({ input, idempotencyKey: args.idempotencyKey }),
          })
        },
      }),
      cancelRun: t.field({
        type: Run,
        args: { runId: t.arg.id({ required: true }), reason: t.arg.string() },
        resolve: (_root, args, ctx) => services.runs.cancel(ctx.caller, String(args.runId), args.reason ?? undefined),
      }),
      pauseRun: t.field({
        type: Run,
        args: { runId: t.arg.id({ required: true }), reason: t.arg.string() },
        resolve: (_root, args, ctx) => services.runs.pause(ctx.caller, String(args.runId), args.reason ?? undefined),
      }),
      resumeRun: t.field({
        type: Run,
        description: 'Resumes a paused run.',
        args: { runId: t.arg.id({ required: true }) },
        resolve: (_root, args, ctx) => services.runs.resumePaused(ctx.caller, String(args.runId)),
      }),
      forkRun: t.field({
        type: StartedRun,
        description: 'A new run that re-executes from `fromStep`, reusing the recorded outputs before it.',
        args: { runId: t.arg.id({ required: true }), fromStep: t.arg.string({ required: true }) },
        resolve: (_root, args, ctx) => services.runs.fork(ctx.caller, String(args.runId), { fromStep: args.fromStep }),
      }),
      decideApproval: t.field({
        type: Run,
        description: 'Records an approval decision (it may arrive before the step waits for it).',
        args: {
          runId: t.arg.id({ required: true }),
          stepId: t.arg.string({ required: true }),
          decision: t.arg({ type: Decision, required: true }),
          comment: t.arg.string(),
          item: t.arg.int({ description: 'The item of a foreach approval step.' }),
        },
        resolve: (_root, args, ctx) =>
          services.runs.decide(ctx.caller, String(args.runId), {
            stepId: args.stepId,
            decision: args.decision,
            ...given({ comment: args.comment, item: args.item }),
          }),
      }),
      signalRun: t.field({
        type: Run,
        description: "Records an external event for the run's wait steps.",
        args: {
          runId: t.arg.id({ required: true }),
          name: t.arg.string({ required: true }),
          payload: t.arg({ type: 'JSON' }),
        },
        resolve: (_root, args, ctx) =>
          services.runs.signal(ctx.caller, String(args.runId), {
            name: args.name,
            ...(args.payload === undefined || args.payload === null ? {} : { payload: args.payload as Json }),
          }),
      }),
      registerWorkflow: t.field({
        type: RegisteredWorkflow,
        description: 'Makes the definition the current version of its name.',
        args: { workflow: t.arg({ type: WorkflowSourceInput, required: true }) },
        resolve: (_root, args, ctx) => services.workflows.register(ctx.caller, sourceOf(args.workflow)),
      }),
    }),
  })
}
