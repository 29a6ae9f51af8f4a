import type { ErrorCode } from '@shiioo/core'
import { toShiiooError } from '@shiioo/core'
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

/**
 * File system errors that say a path given to the command (its data dir, a file) cannot be used
 * as it is: bad input, exit 2, like a data dir that does not exist; with what to do.
 */
const PATH_ERRNOS: Readonly<Record<string, string>> = {
  EROFS: 'this command writes to its data dir: give it one it may write to (--data-dir)',
  EACCES: 'this command writes to its data dir: give it one it may write to (--data-dir)',
  EPERM: 'this command writes to its data dir: give it one it may write to (--data-dir)',
  ENOTDIR: 'is --data-dir the data dir? its folders are not laid out as shiioo makes them',
  EISDIR: 'is --data-dir the data dir? its folders are not laid out as shiioo makes them',
  EEXIST: 'is --data-dir the data dir? its folders are not laid out as shiioo makes them',
  ENAMETOOLONG: 'give a shorter --data-dir',
  ELOOP: 'is --data-dir the data dir? its folders are not laid out as shiioo makes them',
}

/** Prints a failure for a person at a terminal and returns the exit code. */
export function reportError(err: unknown, out: Output): number {
  if (err instanceof ConfigError) {
    for (const problem of err.problems) out.write(`config error: ${problem}\n`)
    return EXIT_CODES[err.code]
  }
  const error = toShiiooError(err)
  out.write(error.code === 'INTERNAL' ? `error: internal error: ${error.message}\n` : `error: ${error.message}\n`)
  const errno = error.details.errno
  const fix = typeof errno === 'string' ? PATH_ERRNOS[errno] : undefined
  if (fix !== undefined) {
    out.write(`${fix}\n`)
    return EXIT_CODES.INVALID_INPUT
  }
  if (error.retryable) out.write('this may be temporary: try again\n')
  return EXIT_CODES[error.code]
}
