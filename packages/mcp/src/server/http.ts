import { randomUUID } from 'node:crypto'
import type { Clock, Logger, TenantId } from '@shiioo/core'
import { ShiiooError, silentLogger, systemClock } from '@shiioo/core'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js'
import type { ToolCaller } from '../catalog/types.js'
import { JSON_RPC, MCP_ERRORS, describeError } from './errors.js'

export interface McpHttpHandlerOptions {
  /**
   * Who the request acts as (the bearer token), asked at every request; throws a ShiiooError,
   * UNAUTHENTICATED (401 with `WWW-Authenticate: Bearer`) or FORBIDDEN (403).
   */
  authenticate(request: Request): Promise<ToolCaller>
  /**
   * The MCP server of a new session (`createShiiooMcpServer`). `caller` answers the latest
   * authenticated caller of the session, so a role taken away applies to its next request.
   */
  createServer(caller: () => ToolCaller, request: Request): Server | Promise<Server>
  /**
   * Origins (`https://app.example.com`) whose browser pages may call. A request without an Origin
   * header (any client that is not a browser) passes; one with another Origin is refused with 403,
   * which keeps a page on a DNS-rebound name from reaching a server on localhost.
   */
  allowedOrigins: readonly string[]
  /** Sessions open at once, over every caller; one more is refused with 503 (default 1000). */
  maxSessions?: number
  /** Sessions of one caller (tenant and principal); the least recently used goes first (default 32). */
  maxSessionsPerCaller?: number
  /** A session with no request for this long is closed (default 30 minutes). */
  idleTimeoutMs?: number
  clock?: Clock
  logger?: Logger
}

/** The open sessions of an MCP HTTP endpoint. */
export interface McpSessions {
  readonly size: number
  /**
   * Sends a server notification to every session of `tenant` (`notifications/message` honours each
   * session's `logging/setLevel`), on the stream the client keeps open for them (its GET); a
   * session without one misses it. Returns how many sessions it went to.
   */
  broadcast(tenant: TenantId, notification: ServerNotification): Promise<number>
}

/** `(request) => Promise<Response>` to mount at `/mcp` (`app.all('/mcp', (c) => handler(c.req.raw))`). */
export interface McpHttpHandler {
  (request: Request): Promise<Response>
  readonly sessions: McpSessions
  /** Closes every session (their streams end). */
  close(): Promise<void>
}

interface Session {
  id: string
  server: Server
  transport: WebStandardStreamableHTTPServerTransport
  tenant: TenantId
  actor: string
  /** The latest authentication of the session's caller (its roles may have changed). */
  caller: ToolCaller
  lastSeen: number
}

const DEFAULT_MAX_SESSIONS = 1000
const DEFAULT_MAX_SESSIONS_PER_CALLER = 32
const DEFAULT_IDLE_TIMEOUT_MS = 30 * 60_000

function jsonRpcErrorResponse(
  status: number,
  code: number,
  message: string,
  data?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Response {
  const error = { code, message, ...(data === undefined ? {} : { data }) }
  return new Response(JSON.stringify({ jsonrpc: '2.0', error, id: null }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

/** As the SDK's transport answers an unknown session, so a client starts a new one. */
function sessionNotFound(): Response {
  return jsonRpcErrorResponse(404, JSON_RPC.SessionNotFound, 'Session not found')
}

function originsOf(allowed: readonly string[]): Set<string> {
  return new Set(
    allowed.map((entry) => {
      const origin = URL.canParse(entry) ? new URL(entry).origin : 'null'
      if (origin === 'null') {
        throw new ShiiooError('INVALID_INPUT', `allowedOrigins: "${entry}" is not an origin (scheme://host[:port])`)
      }
      return origin
    }),
  )
}

/**
 * The MCP Streamable HTTP endpoint: stateful sessions over the SDK's web-standard transport, one
 * MCP server per session, so server-to-client notifications (logging, progress) reach the client.
 *
 * A session is bound to the caller (tenant and principal) that initialized it: a request with
 * another caller's token on its id is answered 404 like an unknown session, so a session id that
 * leaks does not lend its session to anyone else. DELETE ends a session; an idle one expires.
 * Protocol version negotiation and the `MCP-Protocol-Version` header's check (400) are the SDK's.
 */
export function mcpHttpHandler(options: McpHttpHandlerOptions): McpHttpHandler {
  const clock = options.clock ?? systemClock
  const logger = options.logger ?? silentLogger
  const allowedOrigins = originsOf(options.allowedOrigins)
  const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS
  const maxPerCaller = options.maxSessionsPerCaller ?? DEFAULT_MAX_SESSIONS_PER_CALLER
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  const sessions = new Map<string, Session>()
  /** Sessions being initialized, counted against the limit before they are in `sessions`. */
  let starting = 0
  let cancelSweep: (() => void) | undefined

  const closeSession = async (session: Session, why: string): Promise<void> => {
    sessions.delete(session.id)
    logger.debug('MCP session closed', { session: session.id, tenant: session.tenant, why })
    await session.server.close().catch((err: unknown) => logger.warn('closing an MCP session failed', { err }))
  }

  const sweep = (): void => {
    const now = clock.now()
    for (const session of sessions.values()) {
      if (now - session.lastSeen >= idleTimeoutMs) void closeSession(session, 'idle')
    }
    armSweep()
  }

  /** A timer only while sessions are open, so an idle endpoint holds no timer. */
  const armSweep = (): void => {
    cancelSweep?.()
    cancelSweep = undefined
    if (sessions.size === 0) return
    const oldest = Math.min(...[...sessions.values()].map((s) => s.lastSeen))
    cancelSweep = clock.setTimer(oldest + idleTimeoutMs, sweep)
  }

  const register = (session: Session): void => {
    const own = [...sessions.values()].filter((s) => s.tenant === session.tenant && s.actor === session.actor)
    if (own.length >= maxPerCaller) {
      const lru = own.reduce((a, b) => (b.lastSeen < a.lastSeen ? b : a))
      void closeSession(lru, 'the caller opened too many sessions')
    }
    sessions.set(session.id, session)
    if (cancelSweep === undefined) armSweep()
    logger.debug('MCP session opened', { session: session.id, tenant: session.tenant, actor: session.actor })
  }

  const startSession = async (request: Request, caller: ToolCaller): Promise<Response> => {
    if (sessions.size + starting >= maxSessions) {
      return jsonRpcErrorResponse(
        503,
        JSON_RPC.InternalError,
        'too many MCP sessions are open; try again later',
        { code: 'UNAVAILABLE', retryable: true },
        { 'retry-after': '30' },
      )
    }
    starting++
    try {
      let session: Session | undefined
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (id) => {
          session = { id, server, transport, tenant: caller.tenant, actor: caller.actor, caller, lastSeen: clock.now() }
          register(session)
        },
      })
      const server = await options.createServer(() => session?.caller ?? caller, request)
      const previous = server.onclose
      server.onclose = () => {
        previous?.()
        if (session && sessions.get(session.id) === session) sessions.delete(session.id)
      }
      await server.connect(transport)
      const response = await transport.handleRequest(request)
      // not an initialize request: the transport said why (400), and there is nothing to keep
      if (session === undefined) await server.close()
      return response
    } finally {
      starting--
    }
  }

  const refuseAuthentication = (err: unknown, request: Request): Response => {
    const info = describeError(err, logger, 'MCP authentication failed')
    const headers: Record<string, string> = {}
    if (info.code === 'UNAUTHENTICATED') {
      headers['www-authenticate'] = request.headers.has('authorization')
        ? 'Bearer realm="shiioo", error="invalid_token"'
        : 'Bearer realm="shiioo"'
    }
    const { http, jsonRpc } = MCP_ERRORS[info.code]
    return jsonRpcErrorResponse(http, jsonRpc, info.message, { code: info.code, retryable: info.retryable }, headers)
  }

  const handle = async (request: Request): Promise<Response> => {
    const origin = request.headers.get('origin')
    if (origin !== null && !allowedOrigins.has(origin)) {
      logger.warn('MCP request from an origin that is not allowed', { origin: origin.slice(0, 200) })
      return jsonRpcErrorResponse(
        403,
        JSON_RPC.InvalidRequest,
        `Forbidden: origin ${origin.slice(0, 200)} is not allowed`,
        {
          code: 'FORBIDDEN',
          retryable: false,
        },
      )
    }
    let caller: ToolCaller
    try {
      caller = await options.authenticate(request)
    } catch (err) {
      return refuseAuthentication(err, request)
    }
    try {
      const sessionId = request.headers.get('mcp-session-id')
      if (sessionId === null) {
        if (request.method === 'POST') return await startSession(request, caller)
        return jsonRpcErrorResponse(400, JSON_RPC.InvalidRequest, 'Bad Request: Mcp-Session-Id header is required')
      }
      const session = sessions.get(sessionId)
      const now = clock.now()
      if (session === undefined) return sessionNotFound()
      // expired, though its timer has not fired yet
      if (now - session.lastSeen >= idleTimeoutMs) {
        void closeSession(session, 'idle')
        return sessionNotFound()
      }
      if (session.tenant !== caller.tenant || session.actor !== caller.actor) {
        logger.warn('MCP session used by another caller', { tenant: caller.tenant, actor: caller.actor })
        return sessionNotFound()
      }
      session.caller = caller
      session.lastSeen = now
      return await session.transport.handleRequest(request)
    } catch (err) {
      const info = describeError(err, logger, 'MCP request failed')
      const { http, jsonRpc } = MCP_ERRORS[info.code]
      return jsonRpcErrorResponse(http, jsonRpc, info.message, { code: info.code, retryable: info.retryable })
    }
  }

  const broadcast = async (tenant: TenantId, notification: ServerNotification): Promise<number> => {
    let sent = 0
    for (const session of sessions.values()) {
      if (session.tenant !== tenant) continue
      try {
        if (notification.method === 'notifications/message') {
          await session.server.sendLoggingMessage(notification.params, session.id)
        } else {
          await session.server.notification(notification)
        }
        sent++
      } catch (err) {
        logger.warn('an MCP notification could not be sent', { session: session.id, err })
      }
    }
    return sent
  }

  return Object.assign(handle, {
    sessions: {
      get size() {
        return sessions.size
      },
      broadcast,
    },
    async close() {
      cancelSweep?.()
      cancelSweep = undefined
      await Promise.all([...sessions.values()].map((s) => closeSession(s, 'the endpoint closed')))
    },
  })
}
