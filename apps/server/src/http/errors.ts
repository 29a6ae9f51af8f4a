import type { ErrorCode, Logger } from '@shiioo/core'
import { ShiiooError, isShiiooError } from '@shiioo/core'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ZodError } from 'zod'

/** The HTTP status for every error code; a new code does not compile until it is mapped here. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, ContentfulStatusCode>> = {
  INVALID_INPUT: 400,
  UNAUTHENTICATED: 401,
  BUDGET_EXCEEDED: 402,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  LEASE_LOST: 409,
  GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  QUOTA_EXCEEDED: 429,
  RATE_LIMITED: 429,
  DATA_CORRUPTED: 500,
  INTERNAL: 500,
  UNAVAILABLE: 503,
}

/** The one error shape of the API: `details` says more where there is more (the field, the problems). */
export interface ErrorBody {
  error: {
    code: ErrorCode
    message: string
    retryable: boolean
    details: Record<string, unknown>
    /** The request's `X-Request-Id`, to find it in the server's log. */
    requestId: string | null
  }
}

export interface HttpError {
  status: ContentfulStatusCode
  body: ErrorBody
}

const GENERIC_MESSAGE = 'internal error: the details are in the server log'
const CORRUPTED_MESSAGE = 'stored data failed an integrity check: the details are in the server log'

/** What hono itself throws (bad JSON, a body over the limit) as the error it means. */
function fromHttpException(err: HTTPException): ShiiooError {
  if (err.status === 413) return new ShiiooError('PAYLOAD_TOO_LARGE', 'the request body is too large')
  if (err.status === 401) return new ShiiooError('UNAUTHENTICATED', err.message || 'authentication required')
  if (err.status >= 400 && err.status < 500) {
    // hono's JSON validator: "Malformed JSON in request body"
    return new ShiiooError('INVALID_INPUT', err.message || 'bad request', { details: { field: 'body' } })
  }
  return new ShiiooError('INTERNAL', err.message, { cause: err })
}

/**
 * Maps anything thrown to a status and a JSON body. Messages of typed client errors are shown;
 * internal failures are logged in full and answered with a generic message, never a stack trace.
 */
export function toHttpError(thrown: unknown, logger: Logger, requestId: string | null = null): HttpError {
  const err = thrown instanceof HTTPException ? fromHttpException(thrown) : thrown
  const body = (code: ErrorCode, message: string, retryable: boolean, details: Record<string, unknown> = {}) => ({
    error: { code, message, retryable, details, requestId },
  })
  if (isShiiooError(err) && err.code === 'DATA_CORRUPTED') {
    logger.error('request failed on corrupted data', { err })
    return { status: 500, body: body(err.code, CORRUPTED_MESSAGE, false) }
  }
  if (isShiiooError(err) && err.code !== 'INTERNAL') {
    if (HTTP_STATUS[err.code] >= 500) logger.error('request failed', { err })
    return { status: HTTP_STATUS[err.code], body: body(err.code, err.message, err.retryable, err.details) }
  }
  logger.error('request failed with an internal error', { err })
  return { status: 500, body: body('INTERNAL', GENERIC_MESSAGE, false) }
}

export function notFoundBody(message: string, requestId: string | null = null): ErrorBody {
  return { error: { code: 'NOT_FOUND', message, retryable: false, details: {}, requestId } }
}

/**
 * A request that does not match a route's schema, as INVALID_INPUT naming the first bad field
 * (`details.field`, e.g. `query.limit`, `body.input`) and listing every problem.
 */
export function validationError(target: string, error: ZodError): ShiiooError {
  const problems = error.issues.slice(0, 20).map((issue) => ({
    field: [target, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }))
  const first = problems[0] ?? { field: target, message: 'invalid' }
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''
  return new ShiiooError('INVALID_INPUT', `${first.field}: ${first.message}${more}`, {
    details: { field: first.field, problems },
  })
}
