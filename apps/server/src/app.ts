import type { Clock, Logger } from '@shiioo/core'
import { systemClock } from '@shiioo/core'
import { Hono } from 'hono'
import type { GraphQLServer } from './graphql/graphql-server.js'
import { GRAPHQL_PATH } from './graphql/graphql-server.js'
import { HOME_PAGE } from './http/home.js'
import { notFoundBody, toHttpError } from './http/errors.js'

export interface AppDeps {
  version: string
  logger: Logger
  /** When the server started, in clock milliseconds. */
  startedAt: number
  clock?: Pick<Clock, 'now'>
  /** The GraphQL endpoint (graphql/graphql-server.ts), mounted at /api/graphql. */
  graphql?: Pick<GraphQLServer, 'fetch'>
}

export interface HealthResponse {
  status: 'ok'
  version: string
  uptimeSeconds: number
}

/** The HTTP surface, without I/O of its own: tests drive it with `app.request()`. */
export function createApp(deps: AppDeps): Hono {
  const clock = deps.clock ?? systemClock
  const app = new Hono()

  app.get('/api/health', (c) => {
    const uptimeSeconds = Math.max(0, Math.floor((clock.now() - deps.startedAt) / 1000))
    return c.json({ status: 'ok', version: deps.version, uptimeSeconds } satisfies HealthResponse)
  })

  app.get('/', (c) => c.html(HOME_PAGE))

  if (deps.graphql) app.on(['GET', 'POST'], GRAPHQL_PATH, (c) => deps.graphql!.fetch(c.req.raw))

  app.notFound((c) => {
    if (c.req.path === '/api' || c.req.path.startsWith('/api/')) {
      return c.json(notFoundBody(`no API route ${c.req.method} ${c.req.path}`), 404)
    }
    return c.text('not found', 404)
  })

  app.onError((err, c) => {
    const { status, body } = toHttpError(err, deps.logger.child({ method: c.req.method, path: c.req.path }))
    return c.json(body, status)
  })

  return app
}
