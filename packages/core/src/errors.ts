/**
 * Every failure that crosses a package boundary is a ShiiooError with one of these codes.
 * Each edge (REST, GraphQL, MCP, CLI) maps every code with a Record<ErrorCode, ...>, so adding a
 * code does not compile until every edge has decided what it means there.
 */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  /** A write under a lease that is no longer current: another holder took it over (see Leases). */
  'LEASE_LOST',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'QUOTA_EXCEEDED',
  'BUDGET_EXCEEDED',
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  'GONE',
  'UNAVAILABLE',
  'DATA_CORRUPTED',
  'INTERNAL',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** Codes that describe a transient condition: the same call may succeed later. */
const RETRYABLE_BY_DEFAULT: Readonly<Record<ErrorCode, boolean>> = {
  INVALID_INPUT: false,
  NOT_FOUND: false,
  CONFLICT: false,
  LEASE_LOST: false,
  UNAUTHENTICATED: false,
  FORBIDDEN: false,
  QUOTA_EXCEEDED: false,
  BUDGET_EXCEEDED: false,
  RATE_LIMITED: true,
  PAYLOAD_TOO_LARGE: false,
  // something that existed is no longer kept (a feed position older than retention, or lost in a crash)
  GONE: false,
  UNAVAILABLE: true,
  DATA_CORRUPTED: false,
  INTERNAL: false,
}

export interface ShiiooErrorOptions {
  retryable?: boolean
  details?: Record<string, unknown>
  cause?: unknown
}

export class ShiiooError extends Error {
  override readonly name = 'ShiiooError'
  readonly code: ErrorCode
  readonly retryable: boolean
  readonly details: Record<string, unknown>

  constructor(code: ErrorCode, message: string, options: ShiiooErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT[code]
    this.details = options.details ?? {}
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, retryable: this.retryable, details: this.details }
  }
}

export function isShiiooError(value: unknown): value is ShiiooError {
  return value instanceof ShiiooError
}

/**
 * What a system error from the file system means. None is a bug (INTERNAL): the storage is not
 * usable as it is (a read-only or full file system, a path that is not what it should be, no
 * permission), and a full disk or too many open files may pass. An edge that knows the path was
 * its caller's (the CLI's --data-dir) may call the first kind bad input (see `details.errno`).
 */
const SYSTEM_ERRORS: Readonly<Record<string, { retryable: boolean; what: string }>> = {
  EROFS: { retryable: false, what: 'the file system is read-only' },
  EACCES: { retryable: false, what: 'permission denied' },
  EPERM: { retryable: false, what: 'operation not permitted' },
  ENOTDIR: { retryable: false, what: 'a part of the path is a file, not a directory' },
  EISDIR: { retryable: false, what: 'the path is a directory, not a file' },
  EEXIST: { retryable: false, what: 'something else is already at the path' },
  ENAMETOOLONG: { retryable: false, what: 'the path is too long' },
  ELOOP: { retryable: false, what: 'the path has a loop of symbolic links' },
  ENOSPC: { retryable: true, what: 'no space left on the device' },
  EDQUOT: { retryable: true, what: 'the disk quota is used up' },
  EMFILE: { retryable: true, what: 'too many open files' },
  ENFILE: { retryable: true, what: 'too many open files' },
  EIO: { retryable: false, what: 'the disk failed (an input/output error)' },
}

/**
 * Wraps anything thrown into a ShiiooError: a system error of the file system is UNAVAILABLE,
 * saying what it means (see SYSTEM_ERRORS), with `details.errno` and `details.path`; any other
 * unknown failure is INTERNAL.
 */
export function toShiiooError(value: unknown): ShiiooError {
  if (value instanceof ShiiooError) return value
  const message = value instanceof Error ? value.message : String(value)
  const system = value as { code?: unknown; syscall?: unknown; path?: unknown; info?: { code?: unknown } } | null
  // Node's own fs errors (ERR_FS_EISDIR from fs.rm) carry the system's code in `info`
  const errno = typeof system?.info?.code === 'string' ? system.info.code : system?.code
  const known = typeof errno === 'string' ? SYSTEM_ERRORS[errno] : undefined
  if (known && value instanceof Error) {
    const path = typeof system!.path === 'string' ? system!.path : undefined
    const op = typeof system!.syscall === 'string' ? ` (${system!.syscall}${path === undefined ? '' : ` ${path}`})` : ''
    return new ShiiooError('UNAVAILABLE', `${known.what}${op}`, {
      retryable: known.retryable,
      cause: value,
      details: { errno, ...(path === undefined ? {} : { path }) },
    })
  }
  return new ShiiooError('INTERNAL', message, { cause: value })
}
