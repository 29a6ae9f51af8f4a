import type { ErrorCode, Logger } from '@shiioo/core'
import { isShiiooError } from '@shiioo/core'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

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

export interface ErrorBody {
  error: { code: ErrorCode; message: string; retryable: boolean }
}

export interface HttpError {
  status: ContentfulStatusCode
  body: ErrorBody
}

const GENERIC_MESSAGE = 'internal error: the details are in the server log'
const CORRUPTED_MESSAGE = 'stored data failed an integrity check: the details are in the server log'

/**
 * Maps anything thrown to a status and a JSON body. Messages of typed client errors are shown;
 * internal failures are logged in full and answered with a generic message, never a stack trace.
 */
export function toHttpError(err: unknown, logger: Logger): HttpError {
  if (isShiiooError(err) && err.code === 'DATA_CORRUPTED') {
    logger.error('request failed on corrupted data', { err })
    return { status: 500, body: { error: { code: err.code, message: CORRUPTED_MESSAGE, retryable: false } } }
  }
  if (isShiiooError(err) && err.code !== 'INTERNAL') {
    if (HTTP_STATUS[err.code] >= 500) logger.error('request failed', { err })
    return {
      status: HTTP_STATUS[err.code],
      body: { error: { code: err.code, message: err.message, retryable: err.retryable } },
    }
  }
  logger.error('request failed with an internal error', { err })
  return { status: 500, body: { error: { code: 'INTERNAL', message: GENERIC_MESSAGE, retryable: false } } }
}

export function notFoundBody(message: string): ErrorBody {
  return { error: { code: 'NOT_FOUND', message, retryable: false } }
}
