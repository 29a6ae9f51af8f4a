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

/** Wraps anything thrown into a ShiiooError; unknown failures become INTERNAL. */
export function toShiiooError(value: unknown): ShiiooError {
  if (value instanceof ShiiooError) return value
  const message = value instanceof Error ? value.message : String(value)
  return new ShiiooError('INTERNAL', message, { cause: value })
}
