import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { Clock } from '@shiioo/core'
import type { AppEnv } from '../env.js'
import type { ValidationHook } from '../openapi.js'
import { json } from '../schemas.js'

/** Whether the process can serve: each check by name (the index caught up, the data dir open). */
export interface Readiness {
  ready: boolean
  checks: Record<string, boolean>
}

const Health = z
  .object({ status: z.literal('ok'), version: z.string(), uptimeSeconds: z.number().int() })
  .openapi('Health')
const Ready = z
  .object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), z.boolean()) })
  .openapi('Readiness')

const health = createRoute({
  method: 'get',
  path: '/api/health',
  tags: ['health'],
  summary: 'Status, version and uptime (no token needed)',
  responses: { 200: json(Health, 'The server answers') },
})
const live = createRoute({
  method: 'get',
  path: '/api/health/live',
  tags: ['health'],
  summary: 'Liveness: the process answers (no token needed)',
  responses: { 200: json(z.object({ status: z.literal('ok') }), 'Alive') },
})
const ready = createRoute({
  method: 'get',
  path: '/api/health/ready',
  tags: ['health'],
  summary: 'Readiness: the index has caught up with the streams and the data dir is open (no token needed)',
  responses: { 200: json(Ready, 'Ready'), 503: json(Ready, 'Not ready (yet, or any more)') },
})

export function healthRoutes(
  deps: { version: string; startedAt: number; clock: Pick<Clock, 'now'>; readiness: () => Readiness },
  hook: ValidationHook,
): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: hook })
  app.openapi(health, (c) => {
    const uptimeSeconds = Math.max(0, Math.floor((deps.clock.now() - deps.startedAt) / 1000))
    return c.json({ status: 'ok' as const, version: deps.version, uptimeSeconds }, 200)
  })
  app.openapi(live, (c) => c.json({ status: 'ok' as const }, 200))
  app.openapi(ready, (c) => {
    const r = deps.readiness()
    return r.ready
      ? c.json({ status: 'ready' as const, checks: r.checks }, 200)
      : c.json({ status: 'not_ready' as const, checks: r.checks }, 503)
  })
  return app
}
