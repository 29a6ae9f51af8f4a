import { ShiiooError } from '@shiioo/core'
import type { Json } from '@shiioo/core'
import type { ChatRequest, RateLimitInfo } from '../provider.js'

/** Shared by the HTTP providers: timeouts and aborts, the error contract of `Provider`, redaction. */

export type FetchFn = typeof fetch

/** The vendors' SDKs wait up to 10 minutes for a completion. */
export const DEFAULT_TIMEOUT_MS = 600_000

/** One call's abort signal: the caller's signal and the call's own timeout, whichever comes first. */
export interface CallScope {
  readonly signal: AbortSignal
  readonly timeoutMs: number
  timedOut(): boolean
  callerAborted(): boolean
  dispose(): void
}

export function openScope(caller: AbortSignal | undefined, timeoutMs: number): CallScope {
  const controller = new AbortController()
  let timedOut = false
  const onAbort = (): void => controller.abort(caller?.reason)
  if (caller?.aborted) onAbort()
  else caller?.addEventListener('abort', onAbort, { once: true })
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort(new Error(`timed out after ${timeoutMs} ms`))
  }, timeoutMs)
  return {
    signal: controller.signal,
    timeoutMs,
    timedOut: () => timedOut,
    callerAborted: () => !timedOut && caller?.aborted === true,
    dispose() {
      clearTimeout(timer)
      caller?.removeEventListener('abort', onAbort)
    },
  }
}

/** Replaces every secret in a text (API keys echoed back in a vendor's message, say). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]')
  return out
}

function durationMs(text: string): number | undefined {
  // OpenAI's reset headers: "1s", "6m0s", "1h2m3.5s", "20ms".
  let total = 0
  let matched = ''
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    const n = Number(m[1])
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000
    matched += m[0]
  }
  return matched === text.trim() && matched !== '' ? Math.ceil(total) : undefined
}

function headerNumber(headers: Headers, name: string): number | undefined {
  const v = headers.get(name)?.trim()
  return v && /^\d+(\.\d+)?$/.test(v) ? Number(v) : undefined
}

/**
 * A vendor's rate windows from its headers: OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`
 * (reset a duration: "6s", "1m0s", "20ms") and Anthropic's
 * `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` (reset an RFC 3339 time).
 */
export function rateLimitsOf(headers: Headers, now = Date.now()): RateLimitInfo | undefined {
  const out: RateLimitInfo = {}
  for (const what of ['requests', 'tokens'] as const) {
    let limit = headerNumber(headers, `x-ratelimit-limit-${what}`)
    let remaining = headerNumber(headers, `x-ratelimit-remaining-${what}`)
    const openAiReset = headers.get(`x-ratelimit-reset-${what}`)
    let resetMs = openAiReset ? durationMs(openAiReset) : undefined
    if (limit === undefined) {
      limit = headerNumber(headers, `anthropic-ratelimit-${what}-limit`)
      remaining = headerNumber(headers, `anthropic-ratelimit-${what}-remaining`)
      const reset = headers.get(`anthropic-ratelimit-${what}-reset`)
      const at = reset ? Date.parse(reset) : NaN
      resetMs = Number.isNaN(at) ? undefined : Math.max(0, at - now)
    }
    if (limit !== undefined && remaining !== undefined) out[what] = { limit, remaining, resetMs: resetMs ?? 60_000 }
  }
  return out.requests || out.tokens ? out : undefined
}

/**
 * How long a vendor asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or an HTTP
 * date), else the reset time of whichever rate limit the headers say is exhausted.
 */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms')
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms))
  const after = headers.get('retry-after')?.trim()
  if (after) {
    if (/^\d+(\.\d+)?$/.test(after)) return Math.ceil(Number(after) * 1000)
    const at = Date.parse(after)
    if (!Number.isNaN(at)) return Math.max(0, at - now)
  }
  let wait: number | undefined
  for (const what of ['requests', 'tokens', 'input-tokens', 'output-tokens']) {
    const openAi =
      headers.get(`x-ratelimit-remaining-${what}`) === '0' ? headers.get(`x-ratelimit-reset-${what}`) : null
    const anthropic =
      headers.get(`anthropic-ratelimit-${what}-remaining`) === '0'
        ? headers.get(`anthropic-ratelimit-${what}-reset`)
        : null
    const candidate = openAi ? durationMs(openAi) : anthropic ? Math.max(0, Date.parse(anthropic) - now) : undefined
    if (candidate !== undefined && !Number.isNaN(candidate)) wait = Math.max(wait ?? 0, candidate)
  }
  return wait
}

/**
 * The ShiiooError for a non-2xx answer, per the Provider contract. Its message names the cause as
 * the vendor gave it (status, error type, message, request id), with every secret redacted; the
 * same parts are in `details` for logs.
 */
export function statusError(
  provider: string,
  status: number,
  vendorMessage: string | undefined,
  headers: Headers,
  secrets: readonly string[],
  vendorType?: string,
): ShiiooError {
  const message = redact(vendorMessage?.trim() || `HTTP ${status}`, secrets).slice(0, 2000)
  const type = vendorType === undefined ? undefined : redact(vendorType, secrets).slice(0, 100)
  const header = headers.get('x-request-id') ?? headers.get('request-id') ?? undefined
  const requestId = header === undefined ? undefined : redact(header, secrets).slice(0, 200)
  const rateLimits = rateLimitsOf(headers)
  const details: Record<string, unknown> = {
    provider,
    status,
    ...(type && { type }),
    ...(requestId && { requestId }),
    ...(rateLimits && { rateLimits }),
  }
  const text = `${provider} answered ${status}${type ? ` ${type}` : ''}: ${message}${requestId ? ` (request id ${requestId})` : ''}`
  if (status === 429) {
    const wait = retryAfterMs(headers)
    return new ShiiooError('RATE_LIMITED', text, {
      details: { ...details, ...(wait !== undefined && { retryAfterMs: wait }) },
    })
  }
  if (status >= 500) {
    const wait = retryAfterMs(headers)
    return new ShiiooError('UNAVAILABLE', text, {
      details: { ...details, kind: 'server', ...(wait !== undefined && { retryAfterMs: wait }) },
    })
  }
  if (status === 408) return new ShiiooError('UNAVAILABLE', text, { details: { ...details, kind: 'timeout' } })
  if (status === 401 || status === 403) return new ShiiooError('UNAUTHENTICATED', text, { details })
  return new ShiiooError('INVALID_INPUT', text, { details })
}

/** A failure in the response body that is not the vendor's format. */
export function malformed(provider: string, what: string): ShiiooError {
  return new ShiiooError('INTERNAL', `${provider} sent a malformed response: ${what}`, { details: { provider } })
}

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])
const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
])

/** 'timeout' or 'connection' for an error fetch raised on the network, else undefined. */
function networkKind(err: unknown): { kind: 'timeout' | 'connection'; code: string | undefined } | undefined {
  let fetchFailed = false
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return { kind: 'timeout', code }
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return { kind: 'connection', code }
    if (e instanceof TypeError && (e.message === 'fetch failed' || e.message === 'terminated')) fetchFailed = true
  }
  return fetchFailed ? { kind: 'connection', code: undefined } : undefined
}

/** An error the caller's own callback (onText) threw: it passes through unchanged. */
export class CallerError extends Error {
  constructor(readonly error: unknown) {
    super('the caller failed', { cause: error })
  }
}

/** Hands a streamed delta to the caller's onText; what it throws ends the call and passes through. */
export function emit(request: Pick<ChatRequest, 'onText'>, delta: string): void {
  try {
    request.onText?.(delta)
  } catch (err) {
    throw new CallerError(err)
  }
}

/** Maps anything a call threw to the Provider contract. */
export function callFailure(err: unknown, scope: CallScope, provider: string, secrets: readonly string[]): unknown {
  if (err instanceof CallerError) return err.error
  if (scope.timedOut())
    return new ShiiooError('UNAVAILABLE', `${provider} did not answer within ${scope.timeoutMs} ms`, {
      details: { provider, kind: 'timeout', timeoutMs: scope.timeoutMs },
    })
  if (scope.callerAborted()) return abortError(provider, scope.signal.reason)
  if (err instanceof ShiiooError) return err
  const net = networkKind(err)
  const reason = redact(err instanceof Error ? err.message : String(err), secrets)
  if (net)
    return new ShiiooError(
      'UNAVAILABLE',
      `${provider} ${net.kind === 'timeout' ? 'timed out' : 'connection failed'}: ${reason}`,
      {
        details: { provider, kind: net.kind, ...(net.code && { code: net.code }) },
      },
    )
  return new ShiiooError('INTERNAL', `${provider} call failed: ${reason}`, { details: { provider } })
}

/**
 * A call the caller aborted. Its reason passes through when it is a ShiiooError (a cancelled run
 * says why); otherwise UNAVAILABLE kind 'aborted', not retryable.
 */
export function abortError(provider: string, reason: unknown): ShiiooError {
  if (reason instanceof ShiiooError) return reason
  return new ShiiooError('UNAVAILABLE', `${provider} call aborted by the caller`, {
    retryable: false,
    details: { provider, kind: 'aborted' },
  })
}

export interface PostOptions<R extends { rateLimits?: RateLimitInfo }> {
  provider: string
  fetch: FetchFn
  url: string
  headers: Record<string, string>
  body: unknown
  request: Pick<ChatRequest, 'signal' | 'timeoutMs' | 'idempotencyKey'>
  defaultTimeoutMs: number
  /** Values that must never appear in an error (the API key). */
  secrets: readonly string[]
  /** The vendor's error message in an error body. */
  errorMessage: (body: unknown) => string | undefined
  /** The vendor's error type in an error body (`server_error`, `overloaded_error`, ...). */
  errorType?: (body: unknown) => string | undefined
  /** Reads a 2xx response; a failure inside is mapped like any other. */
  read: (response: Response, scope: CallScope) => Promise<R>
}

/** POSTs JSON and reads the answer, mapping every failure to the Provider contract. */
export async function postJson<R extends { rateLimits?: RateLimitInfo }>(options: PostOptions<R>): Promise<R> {
  const { provider, request, secrets } = options
  const scope = openScope(request.signal, request.timeoutMs ?? options.defaultTimeoutMs)
  try {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers }
    if (request.idempotencyKey) headers['idempotency-key'] = request.idempotencyKey
    const response = await options.fetch(options.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(options.body),
      signal: scope.signal,
    })
    if (!response.ok) {
      const text = await response.text().catch(() => '')
      const body = parseJson(text)
      throw statusError(
        provider,
        response.status,
        options.errorMessage(body) ?? text.slice(0, 500),
        response.headers,
        secrets,
        options.errorType?.(body),
      )
    }
    const result = await options.read(response, scope)
    const rateLimits = rateLimitsOf(response.headers)
    return rateLimits ? { ...result, rateLimits } : result
  } catch (err) {
    throw callFailure(err, scope, provider, secrets)
  } finally {
    scope.dispose()
  }
}

/** A text field of the `error` object of a vendor's error body: `{ error: { message, type, code } }`. */
export function errorField(body: unknown, field: string): string | undefined {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined
  if (typeof error !== 'object' || error === null) return undefined
  const value = (error as Record<string, unknown>)[field]
  return typeof value === 'string' ? value : undefined
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/** Reads a JSON body; one that is not JSON is INTERNAL. */
export async function readJson(response: Response, provider: string): Promise<unknown> {
  const text = await response.text()
  const json = parseJson(text)
  if (json === undefined) throw malformed(provider, 'the body is not JSON')
  return json
}

/** A tool call's arguments: JSON when they parse ({} when empty), else the raw text for the tool to reject. */
export function toolInput(args: string | null | undefined): Json {
  if (!args || args.trim() === '') return {}
  const parsed = parseJson(args)
  return parsed === undefined ? args : (parsed as Json)
}

/** About 4 characters a token, for vendors that do not report usage. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4)
}

export function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}
