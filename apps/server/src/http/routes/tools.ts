import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { Json } from '@shiioo/core'
import { MAX_TOOL_NAME_LENGTH, TOOL_NAME_PATTERN } from '@shiioo/mcp'
import type { Orchestrator } from '@shiioo/orchestrator'
import type { AppEnv } from '../env.js'
import type { ValidationHook } from '../openapi.js'
import { BEARER, errorResponses, idempotencyKeyHeader, json } from '../schemas.js'

const security = [{ [BEARER]: [] }]
const tags = ['tools']

const Annotations = z
  .object({
    readOnly: z.boolean().openapi({ description: 'Reads only; changes nothing anywhere' }),
    destructive: z.boolean().openapi({ description: 'May destroy or overwrite (when not read-only)' }),
    idempotent: z.boolean().openapi({ description: 'Calling twice with the same input has no further effect' }),
    openWorld: z.boolean().openapi({ description: 'Reaches outside Shiioo (the internet, another server)' }),
  })
  .openapi('ToolAnnotations')

const Tool = z
  .object({
    name: z.string().openapi({ example: 'core.echo' }),
    title: z.string().optional(),
    description: z.string(),
    inputSchema: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'The JSON Schema (2020-12) the input is checked against: `{ "type": "object", ... }`' }),
    annotations: Annotations,
    source: z.string().openapi({ description: 'Where it comes from: `builtin`, `shiioo`, `mcp:<prefix>`' }),
  })
  .openapi('Tool')

/**
 * Names hold dots (`shiioo.runs.get`): a path parameter ends at `/` only, so the whole name is
 * one segment, checked against the catalog's own pattern.
 */
const Name = z
  .string()
  .max(MAX_TOOL_NAME_LENGTH)
  .regex(TOOL_NAME_PATTERN, 'must be a tool name: <namespace>.<name> of letters, digits, _, - and dots')
  .openapi({ param: { name: 'name', in: 'path' }, description: 'A tool name', example: 'core.echo' })
const params = z.object({ name: Name })

const list = createRoute({
  method: 'get',
  path: '/api/tools',
  tags,
  security,
  summary: 'The tools the caller may call, sorted by name',
  description: 'A tool whose requirement the caller’s roles do not grant is not listed.',
  responses: { 200: json(z.object({ items: z.array(Tool) }), 'The tools'), ...errorResponses() },
})

const get = createRoute({
  method: 'get',
  path: '/api/tools/{name}',
  tags,
  security,
  summary: 'One tool the caller may call',
  description: 'A tool the caller is not granted is answered as one that does not exist (404).',
  request: { params },
  responses: { 200: json(Tool, 'The tool'), ...errorResponses(404) },
})

const call = createRoute({
  method: 'post',
  path: '/api/tools/{name}/call',
  tags,
  security,
  summary: 'Call a tool as the caller',
  description:
    'Checked in order before the tool runs: the name (404, naming close matches), the grant (403, naming the action), ' +
    'the input against the tool’s input schema (400, naming the first bad field, every problem in `details.errors`). ' +
    'Then the tool’s own failures. Every call is in the audit chain as `tool.invoke`, its input as a digest. ' +
    'With an `Idempotency-Key` header, tools with side effects (and external servers that take one) deduplicate a retried call.',
  request: {
    params,
    headers: idempotencyKeyHeader('The same key for a retried call of the same tool'),
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              input: z
                .record(z.string(), z.unknown())
                .openapi({ description: 'The tool’s input, as its input schema describes it' }),
            })
            .strict()
            .openapi('ToolCall'),
        },
      },
    },
  },
  responses: {
    200: json(
      z
        .object({
          tool: z.string(),
          output: z.unknown().openapi({ description: 'What the tool answered (JSON)' }),
        })
        .openapi('ToolCallResult'),
      'The tool’s output',
    ),
    ...errorResponses(404, 413),
  },
})

/** The tool catalog: list, read and call, each one tool service method with the caller. */
export function toolRoutes(orchestrator: Orchestrator, hook: ValidationHook): OpenAPIHono<AppEnv> {
  const { tools } = orchestrator
  const app = new OpenAPIHono<AppEnv>({ defaultHook: hook })
  app.openapi(list, async (c) => c.json({ items: await tools.list(c.get('caller')) }, 200))
  app.openapi(get, async (c) => c.json(await tools.get(c.get('caller'), c.req.valid('param').name), 200))
  app.openapi(call, async (c) => {
    const { name } = c.req.valid('param')
    const key = c.req.valid('header')['idempotency-key']
    const output = await tools.call(c.get('caller'), {
      name,
      input: c.req.valid('json').input as Json,
      ...(key === undefined ? {} : { idempotencyKey: key }),
      // a client that goes away stops the call (an HTTP request is torn down)
      signal: c.req.raw.signal,
    })
    return c.json({ tool: name, output }, 200)
  })
  return app
}
