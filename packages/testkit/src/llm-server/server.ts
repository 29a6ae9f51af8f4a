import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { systemClock } from '@shiioo/core'
import { anthropicError, anthropicMessage, anthropicStreamFrames, parseAnthropicRequest } from './anthropic-wire.js'
import { RateWindow } from './limits.js'
import type { WindowEntry } from './limits.js'
import { openAiCompletion, openAiDuration, openAiError, openAiStreamFrames, parseOpenAiRequest } from './openai-wire.js'
import type {
  LlmApi,
  LlmFaults,
  LlmReply,
  LlmReplyFn,
  LlmServerRequest,
  LlmTestServer,
  LlmTestServerOptions,
  RecordedLlmRequest,
} from './types.js'
import { serverStats } from './stats.js'
import { WireError, replyChars, tokensOf } from './wire.js'
import type { ParsedLlmRequest, ResolvedReply } from './wire.js'

interface Route {
  api: LlmApi
  deployment?: string
}

const NO_FAULTS: LlmFaults = { errorRate: 0, errorStatus: 500, headerDelayMs: 0, chunkDelayMs: 0 }

/** A deterministic answer: the tool results when there are some, else an echo of the last user message. */
export function defaultLlmReply(request: LlmServerRequest): LlmReply {
  if (request.toolResults.length > 0)
    return { text: `Tool results: ${request.toolResults.map((r) => r.content).join('; ')}` }
  return { text: `Echo: ${request.lastUserText}` }
}

function routeOf(method: string | undefined, pathname: string, prefix: string): Route | undefined {
  if (method !== 'POST') return undefined
  const path = prefix && pathname.startsWith(`${prefix}/`) ? pathname.slice(prefix.length) : pathname
  if (path === '/v1/chat/completions' || path === '/chat/completions') return { api: 'openai' }
  if (path === '/v1/messages') return { api: 'anthropic' }
  const azure = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(path)
  if (azure?.[1]) return { api: 'openai', deployment: decodeURIComponent(azure[1]) }
  return undefined
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = []
  for await (const chunk of req) parts.push(chunk as Buffer)
  return Buffer.concat(parts).toString('utf8')
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

/**
 * Starts a local HTTP server that speaks OpenAI Chat Completions and Anthropic Messages, with
 * rate limits, fault injection, scripted replies and a record of every request.
 */
export async function startLlmTestServer(options: LlmTestServerOptions = {}): Promise<LlmTestServer> {
  const apiKey = options.apiKey ?? 'test-key'
  const clock = options.clock ?? systemClock
  const prefix = (options.pathPrefix ?? '').replace(/\/+$/, '')
  const chunkChars = options.streamChunkChars ?? 8
  const window = new RateWindow({ ...options.limits })
  let faults: LlmFaults = { ...NO_FAULTS, ...options.faults }
  let replyFn: LlmReplyFn = options.reply ?? defaultLlmReply
  let random = mulberry32(options.seed ?? 1)
  const queue: LlmReply[] = []
  const failures: number[] = []
  const drops: ('before-headers' | 'mid-body')[] = []
  let requests: RecordedLlmRequest[] = []
  let admitted: WindowEntry[] = []
  let peakConcurrent = 0
  let closing = false
  const sleepers = new Set<() => void>()

  function delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      let cancel = (): void => {}
      const wake = (): void => {
        sleepers.delete(wake)
        cancel()
        resolve()
      }
      sleepers.add(wake)
      cancel = clock.setTimer(clock.now() + ms, wake)
    })
  }

  function rateHeaders(api: LlmApi): Record<string, string> {
    const now = clock.now()
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = window.limits
    const used = window.usage(now)
    const resetMs = window.resetInMs(now)
    const out: Record<string, string> = {}
    const reset = api === 'openai' ? openAiDuration(resetMs) : new Date(now + resetMs).toISOString()
    const name = (what: string, field: string): string =>
      api === 'openai' ? `x-ratelimit-${field}-${what}` : `anthropic-ratelimit-${what}-${field}`
    if (rpm !== undefined) {
      out[name('requests', 'limit')] = String(rpm)
      out[name('requests', 'remaining')] = String(Math.max(0, rpm - used.requests))
      out[name('requests', 'reset')] = reset
    }
    if (tpm !== undefined) {
      out[name('tokens', 'limit')] = String(tpm)
      out[name('tokens', 'remaining')] = String(Math.max(0, tpm - used.tokens))
      out[name('tokens', 'reset')] = reset
    }
    return out
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed || res.headersSent) return
    const text = JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    })
    res.end(text)
  }

  function sendError(
    res: ServerResponse,
    record: RecordedLlmRequest,
    status: number,
    message: string,
    extra: { code?: string | null; type?: string; param?: string | null; headers?: Record<string, string> } = {},
  ): void {
    record.status = status
    const body =
      record.api === 'anthropic'
        ? anthropicError(status, message, `req_${record.seq}`)
        : openAiError(status, message, extra.code ?? null, extra.type, extra.param ?? null)
    const idHeader = record.api === 'anthropic' ? 'request-id' : 'x-request-id'
    sendJson(res, status, body, { [idHeader]: `req_${record.seq}`, ...extra.headers })
  }

  function authorized(route: Route, headers: Record<string, string>): boolean {
    if (route.api === 'anthropic') return headers['x-api-key'] === apiKey
    if (headers.authorization === `Bearer ${apiKey}`) return true
    return route.deployment !== undefined && headers['api-key'] === apiKey
  }

  function parse(
    route: Route,
    headers: Record<string, string>,
    query: URLSearchParams,
    body: unknown,
  ): ParsedLlmRequest {
    if (route.api === 'anthropic') {
      if (!headers['anthropic-version']) throw new WireError('anthropic-version: header is required')
      return parseAnthropicRequest(body)
    }
    if (route.deployment !== undefined && !query.get('api-version'))
      throw new WireError("Missing required query parameter 'api-version'.")
    return parseOpenAiRequest(body, route.deployment)
  }

  async function resolveReply(
    parsed: ParsedLlmRequest,
    request: LlmServerRequest,
    seq: number,
  ): Promise<ResolvedReply> {
    const reply = queue.shift() ?? (await replyFn(request))
    const text = reply.text ?? ''
    const idPrefix = request.api === 'openai' ? 'call' : 'toolu'
    const toolCalls = (reply.toolCalls ?? []).map((c, i) => ({
      id: c.id ?? `${idPrefix}_${seq}_${i}`,
      name: c.name,
      input: c.input,
    }))
    return {
      id: request.api === 'openai' ? `chatcmpl-${seq}` : `msg_${seq}`,
      created: Math.floor(clock.now() / 1000),
      model: reply.model ?? parsed.model,
      text,
      toolCalls,
      stopReason: reply.stopReason ?? (toolCalls.length > 0 ? 'tool_use' : 'end'),
      usage: {
        inputTokens: reply.usage?.inputTokens ?? tokensOf(parsed.promptChars),
        outputTokens: reply.usage?.outputTokens ?? tokensOf(replyChars(text, toolCalls)),
      },
    }
  }

  /** Writes the frames, waiting chunkDelayMs between them; a mid-body drop cuts the socket halfway. */
  async function writeFrames(res: ServerResponse, record: RecordedLlmRequest, frames: Buffer[], drop: boolean) {
    const cut = drop ? Math.max(1, Math.floor(frames.length / 2)) : frames.length
    for (let i = 0; i < frames.length; i++) {
      if (i > 0) await delay(faults.chunkDelayMs)
      if (res.destroyed || closing) return
      if (i === cut) {
        record.outcome = 'dropped'
        res.socket?.destroy()
        return
      }
      const frame = frames[i]
      if (frame) await new Promise<void>((resolve) => res.write(frame, () => resolve()))
    }
    record.outcome = 'ok'
    res.end()
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const route = routeOf(req.method, url.pathname, prefix)
    const raw = await readBody(req)
    const headers = headersOf(req)
    let body: unknown = raw
    let bodyIsJson = true
    try {
      body = JSON.parse(raw)
    } catch {
      bodyIsJson = false
    }
    const record: RecordedLlmRequest = {
      seq: requests.length + 1,
      at: clock.now(),
      api: route?.api,
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      idempotencyKey: headers['idempotency-key'],
      body,
      deployment: route?.deployment,
      stream: false,
      status: undefined,
      outcome: 'pending',
      tokens: 0,
    }
    requests.push(record)
    res.on('close', () => {
      if (record.outcome === 'pending') record.outcome = 'client_aborted'
    })

    if (!route) {
      record.outcome = 'not_found'
      return sendError(res, record, 404, `Unknown route: ${req.method} ${url.pathname}`)
    }
    if (!authorized(route, headers)) {
      record.outcome = 'unauthorized'
      return sendError(
        res,
        record,
        401,
        route.api === 'anthropic' ? 'invalid x-api-key' : 'Incorrect API key provided.',
        { code: 'invalid_api_key' },
      )
    }
    let parsed: ParsedLlmRequest
    try {
      if (!bodyIsJson) throw new WireError('The request body is not valid JSON.')
      parsed = parse(route, headers, url.searchParams, body)
    } catch (err) {
      if (!(err instanceof WireError)) throw err
      record.outcome = 'invalid'
      return sendError(res, record, 400, err.message, { code: err.code, param: err.param })
    }
    record.stream = parsed.stream

    // Both vendors hold a request's output budget (max_tokens) against tokens per minute when it
    // arrives; OpenAI keeps it, Anthropic corrects it to the output produced once it is known.
    const countOutput = window.limits.countOutput ?? (route.api === 'openai' ? 'max_tokens' : 'actual')
    const tokens = tokensOf(parsed.promptChars) + (parsed.maxTokens ?? 0)
    const admission = window.admit(clock.now(), tokens)
    if (!admission.ok) {
      record.outcome = 'rate_limited'
      const seconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000))
      return sendError(res, record, 429, admission.message, {
        code: 'rate_limit_exceeded',
        type: admission.limit === 'tokens' ? 'tokens' : 'requests',
        headers: { 'retry-after': String(seconds), ...rateHeaders(route.api) },
      })
    }
    const entry = window.add(clock.now(), tokens)
    admitted.push(entry)
    record.tokens = tokens
    window.inFlight++
    peakConcurrent = Math.max(peakConcurrent, window.inFlight)
    let released = false
    const release = (): void => {
      if (!released) window.inFlight--
      released = true
    }
    res.on('close', release)
    if (res.destroyed) release()

    await delay(faults.headerDelayMs)
    if (res.destroyed || closing) return

    const drop = drops.shift()
    if (drop === 'before-headers') {
      record.outcome = 'dropped'
      req.socket.destroy()
      return
    }
    const failStatus =
      failures.shift() ?? (faults.errorRate > 0 && random() < faults.errorRate ? faults.errorStatus : 0)
    if (failStatus) {
      record.outcome = 'server_error'
      const message =
        failStatus === 503 || failStatus === 529
          ? 'The server is overloaded, please try again later.'
          : 'The server had an error while processing your request.'
      return sendError(res, record, failStatus, message)
    }

    const request: LlmServerRequest = { api: route.api, ...parsed, headers }
    let reply: ResolvedReply
    try {
      reply = await resolveReply(parsed, request, record.seq)
    } catch (err) {
      record.outcome = 'server_error'
      return sendError(res, record, 500, `The reply script failed: ${(err as Error).message}`)
    }
    if (countOutput === 'actual' || parsed.maxTokens === undefined) {
      entry.tokens = tokensOf(parsed.promptChars) + reply.usage.outputTokens
      record.tokens = entry.tokens
    }

    const idHeader = route.api === 'anthropic' ? 'request-id' : 'x-request-id'
    const common = { [idHeader]: `req_${record.seq}`, ...rateHeaders(route.api) }
    let frames: Buffer[]
    if (parsed.stream) {
      const sse =
        route.api === 'openai'
          ? openAiStreamFrames(reply, parsed.includeUsage, chunkChars)
          : anthropicStreamFrames(reply, chunkChars)
      frames = sse.map((f) => Buffer.from(f))
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...common })
    } else {
      const json = Buffer.from(
        JSON.stringify(route.api === 'openai' ? openAiCompletion(reply) : anthropicMessage(reply)),
      )
      const half = Math.floor(json.length / 2)
      frames = [json.subarray(0, half), json.subarray(half)]
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(json.length), ...common })
    }
    record.status = 200
    res.flushHeaders()
    await writeFrames(res, record, frames, drop === 'mid-body')
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `test server bug: ${String(err)}` } })
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`

  return {
    url,
    openAiBaseUrl: `${url}${prefix}/v1`,
    anthropicBaseUrl: `${url}${prefix}`,
    azureBaseUrl: (deployment) => `${url}${prefix}/openai/deployments/${encodeURIComponent(deployment)}`,
    apiKey,
    get requests() {
      return requests
    },
    stats: () => serverStats(requests, admitted, peakConcurrent),
    enqueue: (...replies) => void queue.push(...replies),
    setReply: (reply) => void (replyFn = reply ?? defaultLlmReply),
    setLimits: (limits) => void (window.limits = { ...limits }),
    setFaults: (next) => void (faults = { ...faults, ...next }),
    failNext: (count, status = 500) => void failures.push(...Array<number>(count).fill(status)),
    dropNext: (count, when = 'before-headers') => void drops.push(...Array<typeof when>(count).fill(when)),
    clearFaults() {
      faults = { ...NO_FAULTS }
      failures.length = 0
      drops.length = 0
    },
    reset() {
      requests = []
      admitted = []
      peakConcurrent = window.inFlight
      window.clear()
      random = mulberry32(options.seed ?? 1)
    },
    async close() {
      closing = true
      for (const wake of [...sleepers]) wake()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
