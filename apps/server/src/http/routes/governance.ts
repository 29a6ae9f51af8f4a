import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { COST_DIMENSIONS } from '@shiioo/core'
import type { Orchestrator } from '@shiioo/orchestrator'
import type { AppEnv } from '../env.js'
import type { ValidationHook } from '../openapi.js'
import { BEARER, CostRow, Payload, RunIdParam, WorkflowRef, errorResponses, json, queryInt } from '../schemas.js'

const security = [{ [BEARER]: [] }]
const Instant = z.iso.datetime({ offset: true }).openapi({ example: '2026-12-03T09:00:00Z' })

const PendingApproval = z
  .object({
    runId: z.string(),
    tenant: z.string(),
    workflow: WorkflowRef,
    stepId: z.string(),
    item: z.number().int().nullable(),
    prompt: z.string().nullable(),
    input: Payload,
    waitingSince: z.string().nullable(),
    deadline: z.string().nullable(),
  })
  .openapi('PendingApproval')

const approvals = createRoute({
  method: 'get',
  path: '/api/approvals',
  tags: ['approvals'],
  security,
  summary: 'Approval steps waiting for a decision in the caller’s tenant',
  description:
    'Paged over the tenant’s running runs (`limit` runs a page): a page may hold fewer approvals than `limit` and still ' +
    'have a `nextCursor`. Decide one with POST /api/runs/{runId}/approvals/{stepId}.',
  request: {
    query: z.object({
      workflow: z.string().min(1).max(128).optional(),
      limit: queryInt(1, 500).optional(),
      cursor: z.string().min(1).max(500).optional(),
    }),
  },
  responses: {
    200: json(
      z.object({ items: z.array(PendingApproval), nextCursor: z.string().nullable() }),
      'Pending approvals, oldest run first',
    ),
    ...errorResponses(),
  },
})

const costs = createRoute({
  method: 'get',
  path: '/api/costs',
  tags: ['costs'],
  security,
  summary: 'The cost ledger: model calls, tokens and cost grouped by a dimension, costliest first',
  request: {
    query: z.object({
      by: z.enum(COST_DIMENSIONS).default('workflow'),
      from: Instant.optional(),
      before: Instant.optional(),
      runId: RunIdParam.optional().openapi({ param: { name: 'runId', in: 'query' } }),
    }),
  },
  responses: { 200: json(z.object({ items: z.array(CostRow) }), 'The groups'), ...errorResponses() },
})

const Source = z
  .object({
    id: z.string(),
    provider: z.string(),
    models: z.array(z.string()),
    priority: z.number(),
    enabled: z.boolean(),
    roles: z.array(z.string()).nullable(),
    limits: z.object({
      requestsPerMinute: z.number().nullable(),
      tokensPerMinute: z.number().nullable(),
      tokensPerDay: z.number().nullable(),
      maxConcurrent: z.number().nullable(),
    }),
    prices: z.object({ inputPer1M: z.number(), outputPer1M: z.number() }).nullable(),
    state: z.enum(['ok', 'cooling', 'breaker_open', 'out_of_service']),
    stateUntil: z.string().nullable(),
    reason: z.string().nullable(),
    inFlight: z.number().int(),
    saturation: z.number().nullable(),
  })
  .openapi('CapacitySource')

const sources = createRoute({
  method: 'get',
  path: '/api/capacity/sources',
  tags: ['capacity'],
  security,
  summary: 'The LLM capacity sources serving the caller’s tenant, and the pool’s queue',
  responses: {
    200: json(
      z
        .object({ queued: z.number().int(), inFlight: z.number().int(), sources: z.array(Source) })
        .openapi('CapacityPool'),
      'The pool',
    ),
    ...errorResponses(),
  },
})

const usage = createRoute({
  method: 'get',
  path: '/api/capacity/usage',
  tags: ['capacity'],
  security,
  summary: 'The caller’s tenant’s model calls, tokens and cost by capacity source',
  request: { query: z.object({ from: Instant.optional(), before: Instant.optional() }) },
  responses: { 200: json(z.object({ items: z.array(CostRow) }), 'Usage by source'), ...errorResponses() },
})

/** Approvals waiting across runs, the cost ledger and the capacity pool: reads of one service each. */
export function governanceRoutes(orchestrator: Orchestrator, hook: ValidationHook): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: hook })
  app.openapi(approvals, async (c) =>
    c.json(await orchestrator.approvals.pending(c.get('caller'), c.req.valid('query')), 200),
  )
  app.openapi(costs, async (c) => {
    const { by, from, before, runId } = c.req.valid('query')
    const items = await orchestrator.runs.costs(c.get('caller'), {
      by,
      ...(from === undefined ? {} : { from }),
      ...(before === undefined ? {} : { before }),
      ...(runId === undefined ? {} : { runId }),
    })
    return c.json({ items }, 200)
  })
  app.openapi(sources, async (c) => c.json(await orchestrator.capacity.pool(c.get('caller')), 200))
  app.openapi(usage, async (c) => {
    const { from, before } = c.req.valid('query')
    const items = await orchestrator.capacity.usage(c.get('caller'), {
      ...(from === undefined ? {} : { from }),
      ...(before === undefined ? {} : { before }),
    })
    return c.json({ items }, 200)
  })
  return app
}
