import { OpenAPIHono } from '@hono/zod-openapi'
import type { Clock, Logger } from '@shiioo/core'
import { systemClock } from '@shiioo/core'
import type { CallerContext, Orchestrator } from '@shiioo/orchestrator'
import type { AppEnv } from './http/env.js'
import type { GraphQLServer } from './graphql/graphql-server.js'
import { GRAPHQL_PATH } from './graphql/graphql-server.js'
import { notFoundBody, toHttpError } from './http/errors.js'
import { HOME_PAGE } from './http/home.js'
import type { ServerMetrics } from './http/metrics.js'
import { bearerAuth, corsFor, limitBody, requestContext } from './http/middleware.js'
import { validationHook } from './http/openapi.js'
import { auditRoutes } from './http/routes/audit.js'
import { docsRoutes, swaggerUiDir } from './http/routes/docs.js'
import { governanceRoutes } from './http/routes/governance.js'
import type { Readiness } from './http/routes/health.js'
import { healthRoutes } from './http/routes/health.js'
import { identityRoutes } from './http/routes/identity.js'
import { mcpRoutes } from './http/mcp.js'
import { metricsRoutes } from './http/routes/metrics.js'
import { runRoutes } from './http/routes/runs.js'
import { toolRoutes } from './http/routes/tools.js'
import { workflowRoutes } from './http/routes/workflows.js'
import { BEARER } from './http/schemas.js'

export type { Readiness }

export interface AppDeps {
  version: string
  logger: Logger
  /** When the server started, in clock milliseconds. */
  startedAt: number
  clock?: Pick<Clock, 'now'>
  /** The one door: every route calls one of its services with the caller. */
  orchestrator: Orchestrator
  /**
   * Resolves a bearer token to the caller, or throws a ShiiooError (UNAUTHENTICATED): the
   * identity service once it exists (`orchestrator.identity.authenticate`).
   */
  authenticate: (token: string) => Promise<CallerContext>
  /** The server's metrics on the composition root's registry. */
  metrics: ServerMetrics
  /** Browser origins allowed by CORS (default none: closed) and the largest request body (default 1 MiB). */
  http?: { corsOrigins?: readonly string[]; maxBodyBytes?: number }
  /** What /api/health/ready reports (default: ready). */
  readiness?: () => Readiness
  /** Where the swagger-ui-dist files are (default: the installed package). */
  docsAssetsDir?: string
  /** The GraphQL endpoint (graphql/graphql-server.ts), mounted at /api/graphql. */
  graphql?: Pick<GraphQLServer, 'fetch'>
  /** The MCP endpoint (http/mcp.ts, `createMcpEndpoint`), mounted at /mcp. */
  mcp?: (request: Request) => Promise<Response>
}

export interface HealthResponse {
  status: 'ok'
  version: string
  uptimeSeconds: number
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

/**
 * Paths that pass without a token here: health for probes, the API's description and its reference
 * page, and GraphQL, which authenticates each operation itself (GraphiQL's page needs none).
 */
function isPublic(path: string): boolean {
  return (
    path === GRAPHQL_PATH ||
    path === '/api/health' ||
    path.startsWith('/api/health/') ||
    path === '/api/openapi.json' ||
    path === '/api/docs' ||
    path.startsWith('/api/docs/')
  )
}

/**
 * The HTTP surface, without I/O of its own (bar reading the reference page's bundled files): tests
 * drive it with `app.request()`. Routes hold no logic: they check the input's shape, call one
 * orchestrator service with the caller and answer its view. Other edges mount on the returned app.
 */
export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const clock = deps.clock ?? systemClock
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

  app.use(
    '*',
    requestContext(deps.logger, (r) => deps.metrics.observeRequest(r)),
  )
  const cors = corsFor(deps.http?.corsOrigins ?? [])
  if (cors) {
    app.use('/api/*', cors)
    app.use('/metrics', cors)
  }
  app.use('/api/*', limitBody(deps.http?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES))
  const auth = bearerAuth(deps.authenticate, isPublic)
  app.use('/api/*', auth)
  app.use('/metrics', auth)

  app.openAPIRegistry.registerComponent('securitySchemes', BEARER, {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token: `Authorization: Bearer <token>`',
  })
  const { orchestrator } = deps
  app.route(
    '/',
    healthRoutes(
      { ...deps, clock, readiness: deps.readiness ?? (() => ({ ready: true, checks: {} })) },
      validationHook,
    ),
  )
  app.route('/', runRoutes(orchestrator, validationHook))
  app.route('/', workflowRoutes(orchestrator, validationHook))
  app.route('/', governanceRoutes(orchestrator, validationHook))
  app.route('/', auditRoutes(orchestrator, validationHook))
  app.route('/', identityRoutes(orchestrator, validationHook))
  app.route('/', toolRoutes(orchestrator, validationHook))
  app.route('/', metricsRoutes(orchestrator, deps.metrics, validationHook))
  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Shiioo API',
      version: deps.version,
      description:
        'Durable DAG workflows for LLM agents. Every operation but health and this document needs ' +
        '`Authorization: Bearer <token>`; errors are `{ "error": { "code", "message", "retryable", "details", "requestId" } }`.',
    },
    security: [{ [BEARER]: [] }],
  })
  app.route('/', docsRoutes(deps.docsAssetsDir ?? swaggerUiDir()))

  app.get('/', (c) => c.html(HOME_PAGE))

  if (deps.graphql) app.on(['GET', 'POST'], GRAPHQL_PATH, (c) => deps.graphql!.fetch(c.req.raw))
  if (deps.mcp) {
    const { corsOrigins = [], maxBodyBytes = DEFAULT_MAX_BODY_BYTES } = deps.http ?? {}
    app.route('/', mcpRoutes(deps.mcp, { corsOrigins, maxBodyBytes }))
  }

  app.notFound((c) => {
    if (c.req.path === '/api' || c.req.path.startsWith('/api/')) {
      return c.json(notFoundBody(`no API route ${c.req.method} ${c.req.path}`, c.get('requestId') ?? null), 404)
    }
    return c.text('not found', 404)
  })

  app.onError((err, c) => {
    const requestId = c.get('requestId') ?? null
    const { status, body } = toHttpError(err, c.get('logger') ?? deps.logger, requestId)
    return c.json(body, status)
  })

  return app
}
