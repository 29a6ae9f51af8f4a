import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Logger } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import type { CallerContext } from '@shiioo/orchestrator'
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import type { AppEnv } from './env.js'

/** A client's request id is echoed only when it is short and plain (it goes into logs and headers). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export const REQUEST_ID_HEADER = 'X-Request-Id'

/**
 * Gives each request an id (the client's `X-Request-Id` when well formed, else a new one), returns
 * it in the response's `X-Request-Id`, and logs the request with it once it is answered.
 */
export function requestContext(
  logger: Logger,
  onAnswered: (request: { route: string; method: string; status: number; seconds: number }) => void,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now()
    const offered = c.req.header(REQUEST_ID_HEADER)
    const requestId = offered !== undefined && REQUEST_ID.test(offered) ? offered : randomUUID()
    c.set('requestId', requestId)
    c.set('logger', logger.child({ requestId, method: c.req.method, path: c.req.path.slice(0, 300) }))
    await next()
    setAnswerHeader(c, REQUEST_ID_HEADER, requestId)
    const seconds = (performance.now() - started) / 1000
    // the route's pattern (`/api/runs/:runId`), never the raw path: ids would make unbounded labels
    const route = c.req.routePath === '/*' || c.req.routePath === '' ? 'unmatched' : c.req.routePath
    onAnswered({ route, method: c.req.method, status: c.res.status, seconds })
    c.get('logger').debug('request', { status: c.res.status, ms: Math.round(seconds * 1000) })
  }
}

/**
 * Sets a header on the answer a handler already made, in place. Hono's `c.header` after that copies
 * the answer, and for the Node adapter's fast answers (a string body) the copy turns the body into a
 * web stream written chunk by chunk: about a fifth of a run listing's CPU. An answer whose headers
 * cannot change (a fetched one) is copied as before.
 */
function setAnswerHeader(c: Context<AppEnv>, name: string, value: string): void {
  try {
    c.res.headers.set(name, value)
  } catch {
    c.header(name, value)
  }
}

const BEARER = /^Bearer ([\x21-\x7e]{1,1024})$/

/**
 * Resolves the `Authorization: Bearer <token>` header to the caller the handlers act as; no
 * header, a malformed one or a token `authenticate` refuses is a 401 with `WWW-Authenticate`.
 * Paths `isPublic` names (health, the API's description) pass without one.
 */
export function bearerAuth(
  authenticate: (token: string) => Promise<CallerContext>,
  isPublic: (path: string) => boolean,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (isPublic(c.req.path)) return next()
    const header = c.req.header('Authorization')
    const token = header === undefined ? undefined : BEARER.exec(header)?.[1]
    if (token === undefined) {
      c.header('WWW-Authenticate', 'Bearer realm="shiioo"')
      throw new ShiiooError(
        'UNAUTHENTICATED',
        header === undefined
          ? 'this API needs an Authorization: Bearer <token> header'
          : 'the Authorization header must be "Bearer <token>"',
      )
    }
    try {
      c.set('caller', await authenticate(token))
    } catch (err) {
      c.header('WWW-Authenticate', 'Bearer realm="shiioo", error="invalid_token"')
      throw err
    }
    await next()
  }
}

/**
 * Refuses a body larger than `maxBytes` with 413 before it is read whole: by its Content-Length
 * when it has one (Node's parser never reads past it), else by counting it as it streams in
 * (hono's bodyLimit). Hono's bodyLimit asks for the body stream even to read the header, which
 * makes the Node adapter build a full web Request (AbortSignal and stream) for every request; the
 * header is read here directly, so the handler (yoga included) can read the body straight from
 * the socket. A GET or HEAD request has no body (the Fetch API's rule, which the adapter follows).
 */
export function limitBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  const tooLarge = (): never => {
    throw new ShiiooError('PAYLOAD_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`, {
      details: { field: 'body', maxBytes },
    })
  }
  const streamed = bodyLimit({ maxSize: maxBytes, onError: tooLarge })
  return (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next()
    const length = c.req.header('content-length')
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return streamed(c, next)
    return parseInt(length, 10) > maxBytes ? tooLarge() : next()
  }
}

/**
 * CORS, closed unless origins are configured: a browser page from any other origin gets no
 * `Access-Control-Allow-Origin` and cannot read answers. Bearer tokens, not cookies: no credentials mode.
 */
export function corsFor(origins: readonly string[]): MiddlewareHandler<AppEnv> | null {
  if (origins.length === 0) return null
  const allowed = new Set(origins)
  return cors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    allowMethods: ['GET', 'POST', 'OPTIONS'],
    allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', REQUEST_ID_HEADER],
    exposeHeaders: [REQUEST_ID_HEADER],
    maxAge: 600,
  })
}
