/** The body of every error the Shiioo API returns. */
export interface ApiErrorBody {
  error: {
    code: string
    message: string
    retryable?: boolean
    details?: unknown
    requestId?: string | null
  }
}

/**
 * An error the server returned (its `code`, such as NOT_FOUND or FORBIDDEN, and HTTP `status`), or
 * a server that could not be reached (`status` 0, code UNAVAILABLE).
 */
export class ShiiooApiError extends Error {
  override readonly name = 'ShiiooApiError'
  readonly status: number
  readonly code: string
  readonly retryable: boolean
  readonly details: unknown
  /** The server's id for the request (its `X-Request-Id`), to find it in the server's log. */
  readonly requestId: string | null

  constructor(
    status: number,
    body: ApiErrorBody['error'],
    options: { cause?: unknown; requestId?: string | null } = {},
  ) {
    super(body.message, options.cause === undefined ? undefined : { cause: options.cause })
    this.status = status
    this.code = body.code
    this.retryable = body.retryable ?? (status === 429 || status === 503 || status === 0)
    this.details = body.details ?? null
    this.requestId = body.requestId ?? options.requestId ?? null
  }
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  if (value === null || typeof value !== 'object' || !('error' in value)) return false
  const e = value.error
  return (
    e !== null &&
    typeof e === 'object' &&
    typeof (e as { code?: unknown }).code === 'string' &&
    typeof (e as { message?: unknown }).message === 'string'
  )
}

/** The error of a response that is not ok: the server's error body, or one describing what came back. */
export function errorOf(response: Response, body: unknown): ShiiooApiError {
  const requestId = response.headers.get('x-request-id')
  if (isErrorBody(body)) return new ShiiooApiError(response.status, body.error, { requestId })
  const text = typeof body === 'string' ? body.slice(0, 200) : ''
  return new ShiiooApiError(
    response.status,
    {
      code: response.status === 401 ? 'UNAUTHENTICATED' : response.status >= 500 ? 'INTERNAL' : 'INVALID_INPUT',
      message: `the server answered ${response.status} ${response.statusText}${text ? `: ${text}` : ''}`,
    },
    { requestId },
  )
}

/** A server that could not be reached at all. */
export function unreachable(url: string, cause: unknown): ShiiooApiError {
  const why =
    cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause)
  return new ShiiooApiError(
    0,
    {
      code: 'UNAVAILABLE',
      message: `cannot reach the Shiioo server at ${url} (${why}): is it running (\`shiioo serve\`), and is the URL right?`,
      retryable: true,
    },
    { cause },
  )
}
