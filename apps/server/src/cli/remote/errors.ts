import type { ErrorCode } from '@shiioo/core'
import { ERROR_CODES, ShiiooError } from '@shiioo/core'
import { ShiiooApiError } from '@shiioo/client'

const CODES: ReadonlySet<string> = new Set(ERROR_CODES)

/**
 * A server's error as the CLI reports a local one: the same code (so the same exit code and
 * hints), the server's message, and its request id to find it in the server's log.
 */
export function fromApiError(err: unknown): unknown {
  if (!(err instanceof ShiiooApiError)) return err
  const code: ErrorCode = CODES.has(err.code)
    ? (err.code as ErrorCode)
    : err.status >= 500
      ? 'INTERNAL'
      : 'INVALID_INPUT'
  const details =
    err.details !== null && typeof err.details === 'object' ? (err.details as Record<string, unknown>) : {}
  return new ShiiooError(code, err.message, {
    retryable: err.retryable,
    details: { ...details, ...(err.requestId === null ? {} : { requestId: err.requestId }) },
    cause: err,
  })
}

/** Runs a call to the server, rethrowing its error as a ShiiooError. */
export async function remote<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    throw fromApiError(err)
  }
}

/** What a command that needs the data dir says when given a server. */
export function localOnly(what: string): ShiiooError {
  return new ShiiooError(
    'INVALID_INPUT',
    `${what} works on a data dir, not through a server: run it on the server's machine without --server (and unset SHIIOO_SERVER)`,
  )
}
