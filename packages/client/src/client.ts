import createFetchClient from 'openapi-fetch'
import type { Client } from 'openapi-fetch'
import { errorOf, unreachable } from './errors.js'
import type { GraphQLRequest, SubscribeOptions } from './graphql.js'
import { graphqlRequest, graphqlSubscribe } from './graphql.js'
import type { paths } from './schema.js'

export interface ShiiooClientOptions {
  /** The server's base URL, such as `http://127.0.0.1:8080`. */
  url: string
  /** An API token (`shiioo token create`), sent as `Authorization: Bearer <token>`. */
  token?: string
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch
  /** Extra headers on every request. */
  headers?: Record<string, string>
}

/** What an operation resolves with: its data, or it throws a ShiiooApiError. */
type Result<T> = Promise<{ data?: T; error?: unknown; response: Response }>

export interface ShiiooClient {
  /** The server's base URL. */
  readonly url: string
  /**
   * Every REST operation of the OpenAPI document, typed from it (openapi-fetch): paths,
   * parameters, bodies and responses, e.g. `api.GET('/api/runs/{runId}', { params: { path: { runId } } })`.
   */
  readonly api: Client<paths>
  /** Resolves with an operation's data, or throws a ShiiooApiError with the server's code and message. */
  data<T>(result: Result<T>): Promise<T>
  /** A GraphQL query or mutation: its data, or a ShiiooApiError with the first error's code. */
  graphql<T = Record<string, unknown>>(request: GraphQLRequest, signal?: AbortSignal): Promise<T>
  /** A GraphQL subscription over server-sent events: each result's data as it arrives. */
  subscribe<T = Record<string, unknown>>(request: GraphQLRequest, options?: SubscribeOptions): AsyncGenerator<T>
}

/** A client of one Shiioo server, acting as the principal of `token`. */
export function createClient(options: ShiiooClientOptions): ShiiooClient {
  const url = options.url.replace(/\/+$/, '')
  const baseFetch = options.fetch ?? globalThis.fetch
  const headers = (): Record<string, string> => ({
    ...options.headers,
    ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
  })
  // a server that cannot be reached is an error that says so, not a TypeError of fetch
  const guardedFetch: typeof fetch = async (input, init) => {
    try {
      return await baseFetch(input, init)
    } catch (err) {
      const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined)
      if (signal?.aborted) throw err
      throw unreachable(url, err)
    }
  }
  const api = createFetchClient<paths>({ baseUrl: url, fetch: guardedFetch, headers: headers() })
  const transport = { url: `${url}/api/graphql`, fetch: guardedFetch, headers }
  return {
    url,
    api,
    async data<T>(result: Result<T>): Promise<T> {
      const { data, error, response } = await result
      if (!response.ok) throw errorOf(response, error)
      return data as T
    },
    graphql: (request, signal) => graphqlRequest(transport, request, signal),
    subscribe: (request, options) => graphqlSubscribe(transport, request, options),
  }
}
