import type { Json } from '@shiioo/core'
import type { ToolView } from '@shiioo/orchestrator'
import { given } from './args.js'
import type { Builder } from './builder.js'
import type { GraphQLServices } from './context.js'

/** What a tool call answers: the tool's name and its output. */
export interface ToolCallResultView {
  tool: string
  output: Json
}

/**
 * The tool catalog: the tools the caller may call, and a call as the caller. Each field calls one
 * tool service method; the service admits, checks the input and audits (`tool.invoke`).
 */
export function toolTypes(builder: Builder) {
  const ToolAnnotations = builder.objectRef<ToolView['annotations']>('ToolAnnotations').implement({
    description: "What a tool does to the world (MCP's tool annotations).",
    fields: (t) => ({
      readOnly: t.exposeBoolean('readOnly', { description: 'Reads only; changes nothing anywhere.' }),
      destructive: t.exposeBoolean('destructive', { description: 'May destroy or overwrite (when not read-only).' }),
      idempotent: t.exposeBoolean('idempotent', {
        description: 'Calling twice with the same input has no further effect.',
      }),
      openWorld: t.exposeBoolean('openWorld', {
        description: 'Reaches outside Shiioo (the internet, another server).',
      }),
    }),
  })
  const Tool = builder.objectRef<ToolView>('Tool').implement({
    description: 'A tool of the catalog, as the caller may call it.',
    fields: (t) => ({
      name: t.exposeString('name', { description: '`<namespace>.<name>`, e.g. `shiioo.runs.get`.' }),
      title: t.string({ nullable: true, resolve: (tool) => tool.title ?? null }),
      description: t.exposeString('description'),
      inputSchema: t.expose('inputSchema', {
        type: 'JSON',
        description: 'The JSON Schema (2020-12) the input is checked against.',
      }),
      annotations: t.expose('annotations', { type: ToolAnnotations }),
      source: t.exposeString('source', { description: 'Where it comes from: `builtin`, `shiioo`, `mcp:<prefix>`.' }),
    }),
  })
  const ToolCallResult = builder.objectRef<ToolCallResultView>('ToolCallResult').implement({
    fields: (t) => ({
      tool: t.exposeString('tool'),
      output: t.expose('output', { type: 'JSON', nullable: true, description: 'What the tool answered.' }),
    }),
  })
  return { Tool, ToolAnnotations, ToolCallResult }
}

export type ToolTypes = ReturnType<typeof toolTypes>

export function toolQueries(builder: Builder, services: GraphQLServices, types: ToolTypes) {
  builder.queryFields((t) => ({
    tools: t.field({
      type: [types.Tool],
      description: 'The tools the caller may call, sorted by name (those its roles do not grant are not shown).',
      resolve: (_root, _args, ctx) => services.tools.list(ctx.caller),
    }),
    tool: t.field({
      type: types.Tool,
      description: 'One tool the caller may call; NOT_FOUND when there is none of that name or it is not granted.',
      args: { name: t.arg.string({ required: true }) },
      resolve: (_root, args, ctx) => services.tools.get(ctx.caller, args.name),
    }),
  }))
}

export function toolMutations(builder: Builder, services: GraphQLServices, types: ToolTypes) {
  builder.mutationFields((t) => ({
    callTool: t.field({
      type: types.ToolCallResult,
      description:
        'Calls a tool as the caller: NOT_FOUND, FORBIDDEN and INVALID_INPUT (naming the first bad field) before it ' +
        'runs, then what the tool fails with. Audited as `tool.invoke`.',
      args: {
        name: t.arg.string({ required: true }),
        input: t.arg({
          type: 'JSON',
          required: true,
          description: 'The input, as the tool’s inputSchema describes it.',
        }),
        idempotencyKey: t.arg.string({
          description: 'The same key for a retried call (tools with side effects deduplicate by it).',
        }),
      },
      resolve: async (_root, args, ctx) => {
        const output = await services.tools.call(ctx.caller, {
          name: args.name,
          // the tool's input schema checks it (an object, its fields): the service says what is wrong
          input: args.input as Json,
          ...given({ idempotencyKey: args.idempotencyKey }),
        })
        return { tool: args.name, output }
      },
    }),
  }))
}
