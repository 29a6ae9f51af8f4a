import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { ShiiooError } from '@shiioo/core'
import { parseIp } from './http-address.js'
import { checkAddress, checkHost, guardedLookup, type NetworkPolicy } from './http-policy.js'

/** One request of a fetch: the first, or one hop of its redirects. */
export interface Hop {
  method: string
  url: URL
  headers: OutgoingHttpHeaders
  body: Buffer | undefined
}

/**
 * Sends one request once its host passed allowHosts and, for an IP literal (which sockets connect
 * to without a lookup), its address passed allowPrivate; a name's addresses are judged by the
 * guarded lookup as the socket resolves them. No agent: a pooled socket would skip that lookup, and
 * one opened for a laxer policy must never serve a stricter one.
 */
export function sendHop(hop: Hop, policy: NetworkPolicy, signal: AbortSignal): Promise<IncomingMessage> {
  const { url } = hop
  checkHost(policy, url)
  const literal = parseIp(url.hostname)
  if (literal !== undefined) checkAddress(policy, url.hostname, url.hostname.replace(/^\[|\]$/g, ''))
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    const req = send({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: hop.method,
      headers: hop.headers,
      agent: false,
      lookup: guardedLookup(policy),
      signal,
    })
    req.once('response', resolve)
    req.once('error', reject) // a refusal of the guarded lookup comes through here as it was thrown
    req.end(hop.body)
  })
}

/** Where a URL points, for messages: its query string may hold a key, so it is left out. */
export function shownUrl(url: URL): string {
  return `${url.origin}${url.pathname}`
}

type Failure = { kind: string; retryable: boolean; what: string }

const FAILURES: Readonly<Record<string, Failure>> = {
  ECONNREFUSED: { kind: 'connection', retryable: true, what: 'the connection was refused' },
  ECONNRESET: { kind: 'connection', retryable: true, what: 'the connection was reset' },
  EPIPE: { kind: 'connection', retryable: true, what: 'the connection was closed' },
  ETIMEDOUT: { kind: 'connection', retryable: true, what: 'the connection timed out' },
  EHOSTUNREACH: { kind: 'connection', retryable: true, what: 'the host is unreachable' },
  ENETUNREACH: { kind: 'connection', retryable: true, what: 'the network is unreachable' },
  EAI_AGAIN: { kind: 'dns', retryable: true, what: 'the name could not be resolved now' },
  ENOTFOUND: { kind: 'dns', retryable: false, what: 'the host name does not exist' },
}

/** A socket, DNS, TLS or HTTP parsing failure as UNAVAILABLE, retryable when it may pass. */
export function transportError(error: unknown, url: URL): ShiiooError {
  if (error instanceof ShiiooError) return error
  const code = errorCode(error)
  const failure: Failure =
    FAILURES[code] ??
    (code.startsWith('HPE_')
      ? { kind: 'protocol', retryable: false, what: 'the response is not valid HTTP' }
      : code.startsWith('Z_')
        ? { kind: 'protocol', retryable: false, what: 'the response body could not be decompressed' }
        : /CERT|TLS|SSL/.test(code)
          ? { kind: 'tls', retryable: false, what: 'the TLS certificate was not accepted' }
          : { kind: 'connection', retryable: true, what: 'the connection failed' })
  const reason = error instanceof Error ? error.message : String(error)
  return new ShiiooError('UNAVAILABLE', `http.fetch of ${shownUrl(url)} failed: ${failure.what} (${reason})`, {
    retryable: failure.retryable,
    details: { kind: failure.kind, code, url: shownUrl(url) },
    cause: error,
  })
}

function errorCode(error: unknown): string {
  const direct = (error as { code?: unknown } | null)?.code
  if (typeof direct === 'string') return direct
  // happy eyeballs (several addresses tried) fails with an AggregateError of each attempt's error
  const first = (error as { errors?: { code?: unknown }[] } | null)?.errors?.[0]?.code
  return typeof first === 'string' ? first : 'UNKNOWN'
}
