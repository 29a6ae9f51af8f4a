import type { ErrorCode } from '@shiioo/core'
import { isShiiooError, toShiiooError } from '@shiioo/core'
import { ConfigError } from '../config/index.js'
import type { Output } from './io.js'

/** The process exit code for every error code: 2 for bad input (usage), 1 for everything else. */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  INVALID_INPUT: 2,
  NOT_FOUND: 1,
  CONFLICT: 1,
  LEASE_LOST: 1,
  UNAUTHENTICATED: 1,
  FORBIDDEN: 1,
  QUOTA_EXCEEDED: 1,
  BUDGET_EXCEEDED: 1,
  RATE_LIMITED: 1,
  PAYLOAD_TOO_LARGE: 1,
  GONE: 1,
  UNAVAILABLE: 1,
  DATA_CORRUPTED: 1,
  INTERNAL: 1,
}

/** Prints a failure for a person at a terminal and returns the exit code. */
export function reportError(err: unknown, out: Output): number {
  if (err instanceof ConfigError) {
    for (const problem of err.problems) out.write(`config error: ${problem}\n`)
    return EXIT_CODES[err.code]
  }
  const error = toShiiooError(err)
  out.write(isShiiooError(err) ? `error: ${error.message}\n` : `error: internal error: ${error.message}\n`)
  if (error.retryable) out.write('this may be temporary: try again\n')
  return EXIT_CODES[error.code]
}
