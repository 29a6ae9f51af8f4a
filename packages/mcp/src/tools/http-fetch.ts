import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import { ShiiooError, type Json } from '@shiioo/core'
import { abortedError } from '../abort.js'
import type { ToolCallContext, ToolDefinition } from '../catalog/types.js'
import { decodeBody, decodedStream, readLimited } from './http-body.js'
import { createNetworkPolicy, type NetworkPolicy } from './http-policy.js'
import { sendHop, shownUrl, transportError, type Hop } from './http-request.js'

/** How http.fetch may reach the network (`[tools.http]` in shiioo.toml). */
export interface HttpFetchOptions {
  /** When set, the only hosts a URL (or a redirect) may name: `example.com` or `*.example.com`. */
  allowHosts?: readonly string[]
  /** Hosts, addresses or CIDR blocks that may be reached although not public (loopback, private, ...). */
  allowPrivate?: readonly string[]
  /** The most body bytes read (and sent); a call may ask for fewer. Default 1 MiB. */
  maxBytes?: number
  /** The whole call, redirects and body included. Default 15 s. */
  timeoutMs?: number
  /** Default 5. */
  maxRedirects?: number
  /** Default `shiioo-http-fetch`. */
  userAgent?: string
}

interface Settings {
  maxBytes: number
  timeoutMs: number
  maxRedirects: number
  userAgent: string
}

export const HTTP_FETCH_DEFAULTS: Readonly<Settings> = {
  maxBytes: 1024 * 1024,
  timeoutMs: 15_000,
  maxRedirects: 5,
  userAgent: 'shiioo-http-fetch',
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const
type Method = (typeof METHODS)[number]

interface HttpFetchInput {
  url: string
  method?: Method
  headers?: Record<string, string>
  body?: string
  maxBytes?: number
}

/** The response headers answered (never set-cookie: a session is not the agent's to keep). */
const SHOWN_HEADERS = [
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-disposition',
  'location',
  'last-modified',
  'etag',
  'cache-control',
  'expires',
  'date',
  'retry-after',
  'link',
  'www-authenticate',
]

/** Headers the request itself owns (framing, the connection, the target): a caller may not set them. */
const REFUSED_HEADERS =
  /^(host|content-length|transfer-encoding|connection|keep-alive|upgrade|te|trailer|expect|proxy-.*)$/
/** Credentials that must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']

/** `http.fetch`: one HTTP(S) request, its redirects followed under the same rules. */
export function httpFetchTool(options: HttpFetchOptions = {}): ToolDefinition {
  const { allowHosts: _hosts, allowPrivate: _private, ...limits } = options
  const settings: Settings = { ...HTTP_FETCH_DEFAULTS, ...withoutUndefined(limits) }
  for (const key of ['maxBytes', 'timeoutMs', 'maxRedirects'] as const) {
    const value = settings[key]
    if (!Number.isSafeInteger(value) || value < (key === 'maxRedirects' ? 0 : 1)) {
      throw new ShiiooError('INVALID_INPUT', `http.fetch option ${key} must be a positive integer, not ${value}`, {
        details: { option: key },
      })
    }
  }
  const policy = createNetworkPolicy(options)
  return {
    name: 'http.fetch',
    title: 'Fetch a URL',
    description:
      'Makes one HTTP or HTTPS request and returns the status, selected headers and the body (text, or base64 ' +
      `when binary), following up to ${settings.maxRedirects} redirects. Reads at most ${settings.maxBytes} bytes ` +
      '(truncated: true beyond). Private and loopback addresses are refused unless configured.',
    inputSchema: {
      type: 'object',
      properties: {
        url: { type: 'string', minLength: 1, maxLength: 8192, description: 'An http: or https: URL.' },
        method: { type: 'string', enum: [...METHODS], default: 'GET' },
        headers: {
          type: 'object',
          additionalProperties: { type: 'string', maxLength: 8192 },
          maxProperties: 64,
          description: 'Request headers (Host, Content-Length, Connection and proxy headers are refused).',
        },
        body: { type: 'string', description: 'The request body (not with GET or HEAD).' },
        maxBytes: { type: 'integer', minimum: 1, description: `At most ${settings.maxBytes}.` },
      },
      required: ['url'],
      additionalProperties: false,
    },
    annotations: { readOnly: false, destructive: false, idempotent: false, openWorld: true },
    requires: 'tool.call',
    call: (input, context) => fetchOnce(input as unknown as HttpFetchInput, context, settings, policy),
  }
}

async function fetchOnce(input: HttpFetchInput, context: ToolCallContext, settings: Settings, policy: NetworkPolicy) {
  const method = input.method ?? 'GET'
  let hop: Hop = { method, url: parseTarget(input.url), headers: requestHeaders(input, settings), body: undefined }
  if (input.body !== undefined) {
    if (method === 'GET' || method === 'HEAD') throw invalid(`input.body: a ${method} request has no body`)
    hop.body = Buffer.from(input.body, 'utf8')
    if (hop.body.length > settings.maxBytes) throw invalid(`input.body: longer than ${settings.maxBytes} bytes`)
    hop.headers['content-type'] ??= 'text/plain;charset=UTF-8'
  }
  const maxBytes = Math.min(input.maxBytes ?? settings.maxBytes, settings.maxBytes)
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(), settings.timeoutMs)
  const signal = AbortSignal.any([context.signal, deadline.signal])
  try {
    for (let redirects = 0; ; redirects++) {
      const response = await sendHop(hop, policy, signal)
      const next = redirectOf(hop, response)
      if (next === undefined) return await answer(response, hop.url, redirects, maxBytes)
      if (redirects >= settings.maxRedirects) {
        throw new ShiiooError(
          'UNAVAILABLE',
          `http.fetch of ${shownUrl(hop.url)}: more than ${settings.maxRedirects} redirects`,
          {
            retryable: false,
            details: { kind: 'redirects', redirects: redirects + 1, url: shownUrl(hop.url) },
          },
        )
      }
      hop = next
    }
  } catch (error) {
    if (deadline.signal.aborted) {
      throw new ShiiooError(
        'UNAVAILABLE',
        `http.fetch of ${shownUrl(hop.url)} timed out after ${settings.timeoutMs} ms`,
        {
          retryable: true,
          details: { kind: 'timeout', timeoutMs: settings.timeoutMs, url: shownUrl(hop.url) },
        },
      )
    }
    if (context.signal.aborted) throw abortedError('http.fetch', context.signal.reason)
    if (error instanceof ShiiooError) throw error
    throw transportError(error, hop.url)
  } finally {
    clearTimeout(timer)
  }
}

async function answer(response: IncomingMessage, url: URL, redirects: number, maxBytes: number): Promise<Json> {
  const { data, truncated } = await readLimited(decodedStream(response), maxBytes)
  const contentType = response.headers['content-type']
  const { body, binary } = decodeBody(data, truncated, contentType)
  const headers: Record<string, string> = {}
  for (const name of SHOWN_HEADERS) {
    const value = response.headers[name]
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return {
    status: response.statusCode ?? 0,
    ...(response.statusMessage ? { statusText: response.statusMessage } : {}),
    headers,
    body,
    binary,
    truncated,
    bytes: data.length,
    url: url.href,
    redirects,
  }
}

/**
 * The next hop when `response` redirects (a 3xx with a Location): 301, 302 and 303 continue as a
 * GET without a body (a HEAD stays a HEAD), 307 and 308 repeat the method and body. Credentials
 * set by the caller do not follow to another origin. The hop's host and address are checked when
 * it is sent, like the first one's. The redirect's own connection is closed here.
 */
function redirectOf(hop: Hop, response: IncomingMessage): Hop | undefined {
  const status = response.statusCode ?? 0
  const location = response.headers.location
  if (![301, 302, 303, 307, 308].includes(status) || location === undefined) return undefined
  response.destroy() // a redirect's body is not read
  let url: URL
  try {
    url = new URL(location, hop.url)
  } catch {
    throw new ShiiooError('UNAVAILABLE', `http.fetch of ${shownUrl(hop.url)}: the redirect is not a URL`, {
      retryable: false,
      details: { kind: 'protocol', url: shownUrl(hop.url) },
    })
  }
  const refusal = targetProblem(url)
  if (refusal !== undefined) {
    throw new ShiiooError('FORBIDDEN', `http.fetch of ${shownUrl(hop.url)} redirects to ${refusal}`, {
      details: { reason: 'redirect_refused', url: shownUrl(hop.url) },
    })
  }
  const headers = { ...hop.headers }
  if (url.origin !== hop.url.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name]
  if (status === 307 || status === 308) return { ...hop, url, headers }
  delete headers['content-type']
  return { method: hop.method === 'HEAD' ? 'HEAD' : 'GET', url, headers, body: undefined }
}

function parseTarget(text: string): URL {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw invalid('input.url: not an absolute URL')
  }
  const problem = targetProblem(url)
  if (problem !== undefined) throw invalid(`input.url: ${problem}`)
  return url
}

/** What keeps a URL from being fetched at all, whoever names it. */
function targetProblem(url: URL): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `a ${url.protocol} URL (only http: and https:)`
  if (url.username !== '' || url.password !== '') return 'a URL with credentials in it (send an Authorization header)'
  return undefined
}

function requestHeaders(input: HttpFetchInput, settings: Settings): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    'user-agent': settings.userAgent,
    accept: '*/*',
    'accept-encoding': 'gzip, deflate, br',
  }
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    const lower = name.toLowerCase()
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower))
      throw invalid(`input.headers: ${JSON.stringify(name)} is not a header name`)
    if (REFUSED_HEADERS.test(lower))
      throw invalid(`input.headers.${lower}: set by http.fetch itself, not by the caller`)
    if (/[\0\r\n]/.test(value)) throw invalid(`input.headers.${lower}: a header value may not hold CR, LF or NUL`)
    headers[lower] = value
  }
  return headers
}

function invalid(message: string): ShiiooError {
  return new ShiiooError('INVALID_INPUT', `http.fetch: ${message}`)
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
