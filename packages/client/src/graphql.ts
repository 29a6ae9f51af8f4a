import { ShiiooApiError, errorOf, unreachable } from './errors.js'
import { readSse } from './sse.js'

export interface GraphQLRequest {
  query: string
  variables?: Record<string, unknown>
  operationName?: string
}

interface GraphQLError {
  message: string
  extensions?: { code?: string; details?: unknown; retryable?: boolean }
}

interface GraphQLResult<T> {
  data?: T | null
  errors?: GraphQLError[]
}

export interface SubscribeOptions {
  /** Ends the subscription (the iteration then ends without an error). */
  signal?: AbortSignal
  /**
   * Called once the server has set the subscription up (its response began), before the first
   * result: a subscription from "now" misses nothing appended after this.
   */
  onOpen?: () => void
}

export interface GraphQLTransport {
  url: string
  fetch: typeof fetch
  headers: () => Record<string, string>
}

/** The first error of a GraphQL result as a ShiiooApiError, keeping its code. */
function errorOfResult(status: number, errors: GraphQLError[], requestId: string | null): ShiiooApiError {
  const first = errors[0]!
  const code = first.extensions?.code ?? 'INVALID_INPUT'
  return new ShiiooApiError(
    status,
    {
      code,
      message: errors.length > 1 ? `${first.message} (and ${errors.length - 1} more)` : first.message,
      ...(first.extensions?.details === undefined ? {} : { details: first.extensions.details }),
      ...(first.extensions?.retryable === undefined ? {} : { retryable: first.extensions.retryable }),
    },
    { requestId },
  )
}

async function post(t: GraphQLTransport, request: GraphQLRequest, accept: string, signal?: AbortSignal) {
  try {
    return await t.fetch(t.url, {
      method: 'POST',
      headers: { ...t.headers(), 'content-type': 'application/json', accept },
      body: JSON.stringify(request),
      ...(signal ? { signal } : {}),
    })
  } catch (err) {
    if (signal?.aborted) throw err
    throw unreachable(t.url, err)
  }
}

/** Runs a query or mutation; resolves with its data or throws the first error with its code. */
export async function graphqlRequest<T>(
  t: GraphQLTransport,
  request: GraphQLRequest,
  signal?: AbortSignal,
): Promise<T> {
  const response = await post(t, request, 'application/graphql-response+json, application/json', signal)
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: reported below with what came back
  }
  const result = body as GraphQLResult<T>
  if (result && typeof result === 'object' && Array.isArray(result.errors) && result.errors.length > 0) {
    throw errorOfResult(response.status, result.errors, response.headers.get('x-request-id'))
  }
  if (!response.ok || !result || typeof result !== 'object' || result.data == null) throw errorOf(response, body)
  return result.data
}

/**
 * A subscription over server-sent events: each result's data as it arrives, until the server
 * completes it or `signal` aborts (then the iteration ends without an error).
 */
export async function* graphqlSubscribe<T>(
  t: GraphQLTransport,
  request: GraphQLRequest,
  options: SubscribeOptions = {},
): AsyncGenerator<T> {
  const { signal } = options
  const response = await post(t, request, 'text/event-stream', signal)
  if (!response.ok || !response.body || !response.headers.get('content-type')?.includes('text/event-stream')) {
    const text = await response.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // reported as text
    }
    const errors = (body as GraphQLResult<T> | null)?.errors
    if (Array.isArray(errors) && errors.length > 0) {
      throw errorOfResult(response.status, errors, response.headers.get('x-request-id'))
    }
    throw errorOf(response, body)
  }
  // the server has subscribed: what becomes durable from here on is delivered
  options.onOpen?.()
  try {
    for await (const message of readSse(response.body, signal)) {
      if (message.event === 'complete') return
      if (message.event !== 'next' && message.event !== 'message') continue
      const result = JSON.parse(message.data) as GraphQLResult<T>
      if (result.errors && result.errors.length > 0) {
        throw errorOfResult(response.status, result.errors, response.headers.get('x-request-id'))
      }
      if (result.data != null) yield result.data
    }
  } catch (err) {
    if (signal?.aborted) return
    throw err
  }
}
