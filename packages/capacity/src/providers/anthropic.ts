import { z } from 'zod'
import { ShiiooError } from '@shiioo/core'
import type { ErrorCode, Json } from '@shiioo/core'
import type { ChatMessage, ChatRequest, ChatResponse, Provider, StopReason } from '../provider.js'
import type { FetchFn } from './http.js'
import {
  DEFAULT_TIMEOUT_MS,
  emit,
  errorField,
  malformed,
  parseJson,
  postJson,
  readJson,
  redact,
  toolInput,
  trimSlash,
} from './http.js'
import { readSse } from './sse.js'
import type { ToolNameMap } from './tool-names.js'
import { requestToolNames } from './tool-names.js'

/** Anthropic Messages API. */
export interface AnthropicProviderOptions {
  /** Without the version path, as in Anthropic's SDKs (default https://api.anthropic.com). */
  baseUrl?: string
  apiKey: string
  /** The `anthropic-version` header (default 2023-06-01). */
  version?: string
  /** Extra headers for every request (e.g. `anthropic-beta`). */
  headers?: Record<string, string>
  /** When a request sets no timeoutMs (default 10 minutes). */
  defaultTimeoutMs?: number
  /** Anthropic requires max_tokens; sent when a request sets none (default 4096). */
  defaultMaxTokens?: number
  fetch?: FetchFn
}

const usageSchema = z.object({
  input_tokens: z.number().nullish(),
  output_tokens: z.number().nullish(),
  cache_creation_input_tokens: z.number().nullish(),
  cache_read_input_tokens: z.number().nullish(),
})

const blockSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.unknown() }),
  z.object({ type: z.literal('thinking') }),
  z.object({ type: z.literal('redacted_thinking') }),
])

const messageSchema = z.object({
  type: z.literal('message'),
  model: z.string(),
  content: z.array(z.unknown()),
  stop_reason: z.string().nullish(),
  usage: usageSchema,
})

const eventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message_start'),
    message: z.object({ model: z.string().nullish(), usage: usageSchema.nullish() }),
  }),
  z.object({
    type: z.literal('content_block_start'),
    index: z.number(),
    content_block: z.object({ type: z.string(), id: z.string().nullish(), name: z.string().nullish() }),
  }),
  z.object({
    type: z.literal('content_block_delta'),
    index: z.number(),
    delta: z.object({ type: z.string(), text: z.string().nullish(), partial_json: z.string().nullish() }),
  }),
  z.object({ type: z.literal('content_block_stop'), index: z.number() }),
  z.object({
    type: z.literal('message_delta'),
    delta: z.object({ stop_reason: z.string().nullish() }),
    usage: usageSchema.nullish(),
  }),
  z.object({ type: z.literal('message_stop') }),
  z.object({ type: z.literal('ping') }),
  z.object({ type: z.literal('error'), error: z.object({ type: z.string(), message: z.string() }) }),
])

type Usage = z.infer<typeof usageSchema>

function stopReason(reason: string | null | undefined): StopReason {
  switch (reason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'end'
    case 'tool_use':
      return 'tool_use'
    case 'max_tokens':
      return 'max_tokens'
    default:
      return 'other'
  }
}

function errorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const error = (body as { error?: unknown }).error
  if (typeof error !== 'object' || error === null) return undefined
  const m = (error as { message?: unknown }).message
  return typeof m === 'string' ? m : undefined
}

/** Anthropic's { type: 'error', error: { type: 'overloaded_error', message } }. */
function errorType(body: unknown): string | undefined {
  return errorField(body, 'type')
}

/** Input tokens include the cached ones: every one of them is charged (at its own price). */
function inputTokens(u: Usage | null | undefined): number {
  return (u?.input_tokens ?? 0) + (u?.cache_creation_input_tokens ?? 0) + (u?.cache_read_input_tokens ?? 0)
}

type Block = Record<string, unknown>
type WireMessage = { role: 'user' | 'assistant'; content: Block[] }

/** System messages go to the top-level `system`; tool results become tool_result blocks of a user turn. */
function wireConversation(
  messages: readonly ChatMessage[],
  names: ToolNameMap,
): { system: string; messages: WireMessage[] } {
  const system: string[] = []
  const out: WireMessage[] = []
  const push = (role: WireMessage['role'], blocks: Block[]): void => {
    const last = out.at(-1)
    // Consecutive turns of one role are merged: all tool results of a turn belong in one user message.
    if (last?.role === role) last.content.push(...blocks)
    else out.push({ role, content: blocks })
  }
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        system.push(m.content)
        break
      case 'user':
        push('user', [{ type: 'text', text: m.content }])
        break
      case 'assistant': {
        const blocks = [
          ...(m.content !== '' ? [{ type: 'text', text: m.content }] : []),
          ...(m.toolCalls ?? []).map((c) => ({
            type: 'tool_use',
            id: c.id,
            name: names.toVendor(c.name),
            input: c.input,
          })),
        ]
        // Anthropic rejects an empty turn; an assistant that said nothing is left out.
        if (blocks.length > 0) push('assistant', blocks)
        break
      }
      case 'tool':
        push('user', [{ type: 'tool_result', tool_use_id: m.toolCallId, content: m.content }])
        break
    }
  }
  return { system: system.join('\n\n'), messages: out }
}

const STREAM_ERRORS: Record<string, ErrorCode> = {
  rate_limit_error: 'RATE_LIMITED',
  invalid_request_error: 'INVALID_INPUT',
  authentication_error: 'UNAUTHENTICATED',
  permission_error: 'UNAUTHENTICATED',
}

export function anthropicProvider(options: AnthropicProviderOptions): Provider {
  const provider = 'anthropic'
  const base = trimSlash(options.baseUrl ?? 'https://api.anthropic.com')
  const url = base.endsWith('/v1') ? `${base}/messages` : `${base}/v1/messages`
  const secrets = [options.apiKey]
  const fetchFn = options.fetch ?? fetch

  async function readMessage(response: Response, request: ChatRequest, names: ToolNameMap): Promise<ChatResponse> {
    const parsed = messageSchema.safeParse(await readJson(response, provider))
    if (!parsed.success) throw malformed(provider, parsed.error.issues[0]?.message ?? 'unexpected shape')
    let text = ''
    const toolCalls: ChatResponse['toolCalls'] = []
    for (const raw of parsed.data.content) {
      const block = blockSchema.safeParse(raw)
      if (!block.success) continue // block types this client does not use (images, citations, ...)
      if (block.data.type === 'text') text += block.data.text
      if (block.data.type === 'tool_use')
        toolCalls.push({
          id: block.data.id,
          name: names.fromVendor(block.data.name),
          input: (block.data.input ?? {}) as Json,
        })
    }
    if (request.stream && text) emit(request, text)
    return {
      text,
      toolCalls,
      stopReason: stopReason(parsed.data.stop_reason),
      usage: { inputTokens: inputTokens(parsed.data.usage), outputTokens: parsed.data.usage.output_tokens ?? 0 },
      model: parsed.data.model,
    }
  }

  async function readStream(response: Response, request: ChatRequest, names: ToolNameMap): Promise<ChatResponse> {
    if (response.headers.get('content-type')?.includes('application/json')) return readMessage(response, request, names)
    if (!response.body) throw malformed(provider, 'no body')
    let text = ''
    let model = request.model
    let stop: string | null | undefined
    let usage = { inputTokens: 0, outputTokens: 0 }
    let stopped = false
    const blocks = new Map<number, { kind: string; id: string; name: string; json: string }>()
    for await (const sse of readSse(response.body)) {
      const parsed = eventSchema.safeParse(parseJson(sse.data))
      if (!parsed.success) {
        if (typeof parseJson(sse.data) === 'object') continue // an event type added after this client
        throw malformed(provider, `a stream event is not JSON: ${sse.data.slice(0, 200)}`)
      }
      const event = parsed.data
      switch (event.type) {
        case 'message_start':
          model = event.message.model ?? model
          usage = {
            inputTokens: inputTokens(event.message.usage),
            outputTokens: event.message.usage?.output_tokens ?? 0,
          }
          break
        case 'content_block_start':
          blocks.set(event.index, {
            kind: event.content_block.type,
            id: event.content_block.id ?? '',
            name: event.content_block.name ?? '',
            json: '',
          })
          break
        case 'content_block_delta': {
          const block = blocks.get(event.index)
          if (event.delta.type === 'text_delta' && event.delta.text) {
            text += event.delta.text
            emit(request, event.delta.text)
          } else if (event.delta.type === 'input_json_delta' && block) block.json += event.delta.partial_json ?? ''
          break
        }
        case 'message_delta':
          stop = event.delta.stop_reason ?? stop
          // message_delta's usage is cumulative.
          if (event.usage?.output_tokens !== undefined && event.usage.output_tokens !== null)
            usage.outputTokens = event.usage.output_tokens
          if (event.usage?.input_tokens) usage.inputTokens = inputTokens(event.usage)
          break
        case 'message_stop':
          stopped = true
          break
        case 'error': {
          const code = STREAM_ERRORS[event.error.type] ?? 'UNAVAILABLE'
          throw new ShiiooError(code, `${provider} failed mid-stream: ${redact(event.error.message, secrets)}`, {
            details: { provider, vendorType: event.error.type, ...(code === 'UNAVAILABLE' && { kind: 'server' }) },
          })
        }
        case 'content_block_stop':
        case 'ping':
          break
      }
      if (stopped) break
    }
    if (!stopped)
      throw new ShiiooError('UNAVAILABLE', `${provider} stream ended before message_stop`, {
        details: { provider, kind: 'connection' },
      })
    const toolCalls = [...blocks.entries()]
      .sort(([a], [b]) => a - b)
      .filter(([, b]) => b.kind === 'tool_use')
      .map(([, b]) => ({ id: b.id, name: names.fromVendor(b.name), input: toolInput(b.json) }))
    return { text, toolCalls, stopReason: stopReason(stop), usage, model }
  }

  return {
    kind: provider,
    tokenAccounting: 'actual',
    chat(request) {
      const stream = request.stream === true
      // vendor-safe tool names for this request; the reply's calls are mapped back
      const names = requestToolNames(request)
      const { system, messages } = wireConversation(request.messages, names)
      const body = {
        model: request.model,
        max_tokens: request.maxTokens ?? options.defaultMaxTokens ?? 4096,
        ...(system && { system }),
        messages,
        ...(request.tools?.length && {
          tools: request.tools.map((t) => ({
            name: names.toVendor(t.name),
            ...(t.description && { description: t.description }),
            input_schema: t.inputSchema,
          })),
        }),
        ...(request.temperature !== undefined && { temperature: request.temperature }),
        ...(stream && { stream: true }),
      }
      return postJson({
        provider,
        fetch: fetchFn,
        url,
        headers: {
          ...options.headers,
          accept: stream ? 'text/event-stream' : 'application/json',
          'x-api-key': options.apiKey,
          'anthropic-version': options.version ?? '2023-06-01',
        },
        body,
        request,
        defaultTimeoutMs: options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS,
        secrets,
        errorMessage,
        errorType,
        read: (response) => (stream ? readStream(response, request, names) : readMessage(response, request, names)),
      })
    },
  }
}
