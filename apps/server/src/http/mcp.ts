import type { Logger } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import type { McpHttpHandler } from '@shiioo/mcp'
import { mcpHttpHandler } from '@shiioo/mcp'
import type { Orchestrator } from '@shiioo/orchestrator'
import { toolCallerOf } from '@shiioo/orchestrator'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { createMcpSession } from '../mcp-session.js'
import type { AppEnv } from './env.js'
import { REQUEST_ID_HEADER } from './middleware.js'

/** Where the server answers MCP over Streamable HTTP. */
export const MCP_PATH = '/mcp'

/** The MCP endpoint: `(request) => response`, its sessions, and `close()` for shutdown. */
export type McpEndpoint = McpHttpHandler

export interface McpEndpointDeps {
  orchestrator: Pick<Orchestrator, 'identity' | 'tools' | 'runs' | 'workflows'>
  version: string
  logger: Logger
  /**
   * Browser origins whose pages may call (the server's `[http] cors_origins`, none by default); a
   * request with any other Origin is refused with 403 (DNS rebinding), one without passes.
   */
  allowedOrigins: readonly string[]
}

const BEARER = /^Bearer ([\x21-\x7e]{1,1024})$/

/**
 * The MCP endpoint of the server: sessions authenticated with the same API tokens as the REST API
 * (`identity.authenticate`, at every request), each an MCP server over the orchestrator's services
 * as the token's caller (createMcpSession).
 */
export function createMcpEndpoint(deps: McpEndpointDeps): McpEndpoint {
  const { orchestrator, version, logger } = deps
  return mcpHttpHandler({
    async authenticate(request) {
      const header = request.headers.get('authorization')
      const token = header === null ? undefined : BEARER.exec(header)?.[1]
      if (token === undefined) {
        throw new ShiiooError(
          'UNAUTHENTICATED',
          header === null
            ? 'MCP needs an Authorization: Bearer <token> header (an API token)'
            : 'the Authorization header must be "Bearer <token>"',
        )
      }
      return toolCallerOf(await orchestrator.identity.authenticate(token))
    },
    createServer: (caller) => createMcpSession(orchestrator, { caller, version, logger }),
    allowedOrigins: deps.allowedOrigins,
    logger,
  })
}

/** A JSON-RPC error body, as MCP clients read every failure of the endpoint. */
function tooLarge(maxBytes: number): Response {
  const error = {
    code: -32600,
    message: `the request body is larger than ${maxBytes} bytes`,
    data: { code: 'PAYLOAD_TOO_LARGE', retryable: false },
  }
  return new Response(JSON.stringify({ jsonrpc: '2.0', error, id: null }), {
    status: 413,
    headers: { 'content-type': 'application/json' },
  })
}

/**
 * `/mcp` (POST, GET for the server's notification stream, DELETE to end a session). It is not
 * under `/api/*`, so the REST API's bearer middleware and error shape do not apply; it has its own
 * body limit (the same `[http] max_body_bytes`) answered as JSON-RPC, and, when browser origins
 * are configured, CORS that lets their pages send and read MCP's own headers.
 */
export function mcpRoutes(
  endpoint: (request: Request) => Promise<Response>,
  options: { corsOrigins: readonly string[]; maxBodyBytes: number },
): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  if (options.corsOrigins.length > 0) {
    const allowed = new Set(options.corsOrigins)
    app.use(
      MCP_PATH,
      cors({
        origin: (origin) => (allowed.has(origin) ? origin : null),
        allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
        allowHeaders: [
          'Authorization',
          'Content-Type',
          'Accept',
          'Mcp-Session-Id',
          'Mcp-Protocol-Version',
          'Last-Event-ID',
          REQUEST_ID_HEADER,
        ],
        exposeHeaders: ['Mcp-Session-Id', REQUEST_ID_HEADER],
        maxAge: 600,
      }),
    )
  }
  app.use(MCP_PATH, bodyLimit({ maxSize: options.maxBodyBytes, onError: () => tooLarge(options.maxBodyBytes) }))
  app.all(MCP_PATH, (c) => endpoint(c.req.raw))
  return app
}
