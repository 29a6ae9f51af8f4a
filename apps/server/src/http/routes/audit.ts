import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { Orchestrator } from '@shiioo/orchestrator'
import { stream } from 'hono/streaming'
import type { AppEnv } from '../env.js'
import type { ValidationHook } from '../openapi.js'
import { Actor, BEARER, errorResponses, json, queryInt } from '../schemas.js'

const security = [{ [BEARER]: [] }]
const tags = ['audit']

const Entry = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    tenant: z.string(),
    actor: Actor,
    action: z.string(),
    subject: z.object({ kind: z.string(), id: z.string().nullable() }),
    outcome: z.union([
      z.object({ status: z.literal('ok') }),
      z.object({ status: z.enum(['denied', 'error']), code: z.string(), message: z.string() }),
    ]),
    details: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string().openapi({ description: 'sha256 of the canonical JSON of every other field' }),
  })
  .openapi('AuditEntry')

const list = createRoute({
  method: 'get',
  path: '/api/audit',
  tags,
  security,
  summary: 'The tenant’s audit entries, newest first, filtered',
  request: {
    query: z.object({
      action: z.string().min(1).max(100).optional().openapi({ example: 'run.start' }),
      actor: z.string().min(1).max(200).optional().openapi({ example: 'local:alice' }),
      since: z.string().min(1).max(40).optional().openapi({ description: 'ISO-8601 date or instant' }),
      before: queryInt(1).optional().openapi({ description: 'A previous page’s `nextBefore`' }),
      limit: queryInt(1, 1000).optional(),
    }),
  },
  responses: {
    200: json(z.object({ items: z.array(Entry), nextBefore: z.number().int().nullable() }), 'A page of entries'),
    ...errorResponses(),
  },
})

const verify = createRoute({
  method: 'get',
  path: '/api/audit/verify',
  tags,
  security,
  summary: 'Check the tenant’s audit chain; `firstBad` names the first entry that breaks it',
  responses: {
    200: json(
      z
        .object({
          tenant: z.string(),
          ok: z.boolean(),
          entries: z.number().int(),
          head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
          firstBad: z.object({ seq: z.number().int(), message: z.string() }).nullable(),
        })
        .openapi('AuditVerify'),
      'What the check found',
    ),
    ...errorResponses(),
  },
})

const exportRoute = createRoute({
  method: 'get',
  path: '/api/audit/export',
  tags,
  security,
  summary: 'Every audit entry, oldest first, as JSON Lines (for a SIEM)',
  responses: {
    200: {
      description: 'One AuditEntry JSON object a line',
      content: { 'application/x-ndjson': { schema: z.string() } },
    },
    ...errorResponses(),
  },
})

export function auditRoutes(orchestrator: Orchestrator, hook: ValidationHook): OpenAPIHono<AppEnv> {
  const { audit } = orchestrator
  const app = new OpenAPIHono<AppEnv>({ defaultHook: hook })
  app.openapi(list, async (c) => c.json(await audit.list(c.get('caller'), c.req.valid('query')), 200))
  app.openapi(verify, async (c) => c.json(await audit.verify(c.get('caller'), { signal: c.req.raw.signal }), 200))
  app.openapi(exportRoute, async (c) => {
    // admitted (or refused with the error shape) before the first byte is sent
    const entries = await audit.export(c.get('caller'), { signal: c.req.raw.signal })
    c.header('Content-Type', 'application/x-ndjson; charset=utf-8')
    const body = stream(c, async (out) => {
      for await (const entry of entries) {
        if (out.aborted) break
        await out.write(`${JSON.stringify(entry)}\n`)
      }
    })
    // a stream of JSON lines: not the one JSON value the route's typing expects of a json media type
    return body as never
  })
  return app
}
