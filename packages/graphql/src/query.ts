import { COST_DIMENSIONS } from '@shiioo/core'
import type { WorkflowView } from '@shiioo/orchestrator'
import { given } from './args.js'
import type { AuditTypes } from './audit-types.js'
import type { Builder } from './builder.js'
import type { GraphQLServices } from './context.js'
import type { EventTypes } from './event-types.js'
import type { RunTypes } from './run-types.js'

interface Types {
  runs: RunTypes
  events: EventTypes
  audit: AuditTypes
}

/** Queries: each resolver calls one service with the caller, nothing else. */
export function queryType(builder: Builder, services: GraphQLServices, types: Types) {
  const { runs, events, audit } = types
  const CostDimension = builder.enumType('CostDimension', { values: COST_DIMENSIONS })
  const Workflow = builder.objectRef<WorkflowView>('Workflow').implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      hash: t.exposeString('hash', { description: "The current version's hash." }),
      versions: t.stringList({
        description: 'Every version, oldest first.',
        resolve: (w) => w.versions.map((v) => v.hash),
      }),
    }),
  })

  builder.queryType({
    fields: (t) => ({
      runs: t.field({
        type: runs.RunPage,
        description: "The tenant's runs, newest first, from the index; page with `after: nextCursor`.",
        args: {
          status: t.arg({ type: runs.RunStatus }),
          workflow: t.arg.string(),
          first: t.arg.int({ description: '1-500, default 50.' }),
          after: t.arg.string(),
        },
        resolve: (_root, args, ctx) =>
          services.runs.list(
            ctx.caller,
            given({ status: args.status, workflow: args.workflow, limit: args.first, cursor: args.after }),
          ),
      }),
      run: t.field({
        type: runs.Run,
        args: { id: t.arg.id({ required: true }) },
        resolve: (_root, args, ctx) => ctx.loaders.run.load(String(args.id)),
      }),
      events: t.field({
        type: [events.Event],
        description: "A run's events in order.",
        args: { runId: t.arg.id({ required: true }) },
        resolve: (_root, args, ctx) => ctx.loaders.events.load(String(args.runId)),
      }),
      stateAt: t.field({
        type: runs.RunAt,
        description: 'A run as of its event `seq` (time travel).',
        args: { runId: t.arg.id({ required: true }), seq: t.arg.int({ required: true }) },
        resolve: (_root, args, ctx) => services.runs.stateAt(ctx.caller, String(args.runId), args.seq),
      }),
      workflows: t.field({
        type: [Workflow],
        resolve: (_root, _args, ctx) => services.workflows.list(ctx.caller),
      }),
      costs: t.field({
        type: [runs.CostRow],
        description: 'The cost ledger grouped by a dimension; `from`/`before` are ISO instants.',
        args: {
          by: t.arg({ type: CostDimension, required: true }),
          from: t.arg.string(),
          before: t.arg.string(),
          runId: t.arg.id(),
        },
        resolve: (_root, args, ctx) =>
          services.runs.costs(ctx.caller, {
            ...given({ from: args.from, before: args.before, runId: args.runId?.toString() }),
            by: args.by,
          }),
      }),
      audit: t.field({
        type: audit.AuditPage,
        description: 'Audit entries, newest first; page with `before: nextBefore`.',
        args: {
          action: t.arg.string(),
          actor: t.arg.string(),
          since: t.arg.string(),
          before: t.arg.int(),
          limit: t.arg.int({ description: '1-1000, default 100.' }),
        },
        resolve: (_root, args, ctx) => services.audit.list(ctx.caller, given(args)),
      }),
      auditVerify: t.field({
        type: audit.AuditVerify,
        description: "Checks the tenant's audit chain; names the first bad entry.",
        resolve: (_root, _args, ctx) => services.audit.verify(ctx.caller),
      }),
    }),
  })
}
