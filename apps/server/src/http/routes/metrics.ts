import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import type { Orchestrator } from '@shiioo/orchestrator'
import type { AppEnv } from '../env.js'
import type { ServerMetrics } from '../metrics.js'
import type { ValidationHook } from '../openapi.js'
import { BEARER, errorResponses } from '../schemas.js'

const route = (path: string) =>
  createRoute({
    method: 'get',
    path,
    tags: ['metrics'],
    security: [{ [BEARER]: [] }],
    summary: 'Prometheus metrics: runs by status, step latency, LLM tokens and cost, the capacity pool, HTTP latency',
    responses: {
      200: {
        description: 'The Prometheus text exposition format',
        content: { 'text/plain': { schema: z.string() } },
      },
      ...errorResponses(),
    },
  })

export function metricsRoutes(
  orchestrator: Orchestrator,
  metrics: ServerMetrics,
  hook: ValidationHook,
): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: hook })
  for (const path of ['/metrics', '/api/metrics']) {
    app.openapi(route(path), async (c) => {
      const { contentType, text } = await metrics.render(await orchestrator.metrics.snapshot(c.get('caller')))
      return c.text(text, 200, { 'Content-Type': contentType })
    })
  }
  return app
}
