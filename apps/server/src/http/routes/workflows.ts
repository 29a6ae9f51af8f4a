import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { ShiiooError } from '@shiioo/core'
import type { Orchestrator, WorkflowSource } from '@shiioo/orchestrator'
import type { AppEnv } from '../env.js'
import type { ValidationHook } from '../openapi.js'
import { BEARER, WorkflowSourceBody, errorResponses, json } from '../schemas.js'

const security = [{ [BEARER]: [] }]
const tags = ['workflows']

const Version = z.object({ hash: z.string(), current: z.boolean() })
const Workflow = z.object({ name: z.string(), hash: z.string(), versions: z.array(Version) }).openapi('Workflow')
const WorkflowDetail = z
  .object({
    name: z.string(),
    hash: z.string(),
    versions: z.array(Version),
    definitionHash: z.string(),
    definition: z.unknown().openapi({ description: 'The normalized definition, as stored and hashed' }),
  })
  .openapi('WorkflowDetail')
const Name = z
  .string()
  .min(1)
  .max(128)
  .openapi({ param: { name: 'name', in: 'path' }, description: 'A workflow name', example: 'review' })

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml']

const register = createRoute({
  method: 'post',
  path: '/api/workflows',
  tags,
  security,
  summary: 'Register a workflow definition as the current version of its name',
  description:
    'The body is the definition as YAML (`Content-Type: application/yaml`) or a JSON object: ' +
    '`{ "text": "<YAML or JSON>" }` or `{ "definition": { ... } }`. Invalid definitions are refused with every problem listed.',
  request: {
    body: {
      // required, but declared optional: the JSON validator would otherwise refuse a YAML body as empty JSON
      required: false,
      content: {
        'application/json': { schema: WorkflowSourceBody },
        'application/yaml': { schema: z.string().openapi({ description: 'The definition as YAML' }) },
      },
    },
  },
  responses: {
    200: json(
      z.object({ name: z.string(), hash: z.string(), changed: z.boolean() }).openapi('RegisteredWorkflow'),
      'Registered (`changed: false` when it already was the current version)',
    ),
    ...errorResponses(413),
  },
})

const list = createRoute({
  method: 'get',
  path: '/api/workflows',
  tags,
  security,
  summary: 'The registered workflow names and their versions',
  responses: { 200: json(z.object({ items: z.array(Workflow) }), 'The workflows'), ...errorResponses() },
})

const get = createRoute({
  method: 'get',
  path: '/api/workflows/{name}',
  tags,
  security,
  summary: 'A workflow with its current definition (or the version `hash` names)',
  request: {
    params: z.object({ name: Name }),
    query: z.object({
      hash: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .optional(),
    }),
  },
  responses: { 200: json(WorkflowDetail, 'The workflow'), ...errorResponses(404) },
})

const versions = createRoute({
  method: 'get',
  path: '/api/workflows/{name}/versions',
  tags,
  security,
  summary: 'A workflow name’s versions, oldest first',
  request: { params: z.object({ name: Name }) },
  responses: {
    200: json(z.object({ name: z.string(), items: z.array(Version) }), 'The versions'),
    ...errorResponses(404),
  },
})

export function workflowRoutes(orchestrator: Orchestrator, hook: ValidationHook): OpenAPIHono<AppEnv> {
  const { workflows } = orchestrator
  const app = new OpenAPIHono<AppEnv>({ defaultHook: hook })
  app.openapi(register, async (c) => {
    const type = (c.req.header('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase()
    let source: WorkflowSource
    if (YAML_TYPES.includes(type)) source = { text: await c.req.text(), format: 'yaml' }
    else if (type === 'application/json') source = c.req.valid('json') as z.infer<typeof WorkflowSourceBody>
    else {
      throw new ShiiooError('INVALID_INPUT', 'send the definition as application/json or application/yaml', {
        details: { field: 'header.content-type' },
      })
    }
    return c.json(await workflows.register(c.get('caller'), source), 200)
  })
  app.openapi(list, async (c) => c.json({ items: await workflows.list(c.get('caller')) }, 200))
  app.openapi(get, async (c) => {
    const { hash } = c.req.valid('query')
    return c.json(await workflows.get(c.get('caller'), c.req.valid('param').name, hash), 200)
  })
  app.openapi(versions, async (c) => {
    const w = await workflows.get(c.get('caller'), c.req.valid('param').name)
    return c.json({ name: w.name, items: w.versions }, 200)
  })
  return app
}
