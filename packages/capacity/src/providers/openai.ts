import { z } from 'zod'
import { ShiiooError } from '@shiioo/core'
import type { ChatMessage, ChatRequest, ChatResponse, Provider, StopReason, ToolCall } from '../provider.js'
import type { FetchFn } from './http.js'
import {
  DEFAULT_TIMEOUT_MS,
  emit,
  errorField,
  estimateTokens,
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

/**
 * OpenAI-compatible Chat Completions: OpenAI, Azure OpenAI deployments, Ollama, vLLM, LM Studio,
 * OpenRouter and the like.
 */
export interface OpenAiProviderOptions {
  /** Up to and including the version, e.g. https://api.openai.com/v1, http://localhost:11434/v1, or an
   * Azure deployment: https://<resource>.openai.azure.com/openai/deployments/<deployment>. */
  baseUrl?: string
  /** Sent as a bearer token (Azure: the `api-key` header); omit for local servers that need none. */
  apiKey?: string
  organization?: string
  /** Extra headers for every request (e.g. OpenRouter's HTTP-Referer). */
  headers?: Record<string, string>
  /** Set for Azure OpenAI: the key goes in `api-key` and this in the `api-version` query. */
  azureApiVersion?: string
  /** When a request sets no timeoutMs (default 10 minutes). */
  defaultTimeoutMs?: number
  /** Newer OpenAI models take only `max_completion_tokens` (default `max_tokens`, which every compatible server knows). */
  maxTokensField?: 'max_tokens' | 'max_completion_tokens'
  fetch?: FetchFn
}

const toolCallSchema = z.object({
  id: z.string(),
  function: z.object({ name: z.string(), arguments: z.string().nullish() }),
})

const usageSchema = z.object({ prompt_tokens: z.number(), completion_tokens: z.number() })

const completionSchema = z.object({
  model: z.string().nullish(),
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.union([z.string(), z.array(z.unknown())]).nullish(),
          tool_calls: z.array(toolCallSchema).nullish(),
        }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: usageSchema.nullish(),
})

const chunkSchema = z.object({
  model: z.string().nullish(),
  choices: z
    .array(
      z.object({
        delta: z
          .object({
            content: z.string().nullish(),
            tool_calls: z
              .array(
                z.object({
                  index: z.number(),
                  id: z.string().nullish(),
                  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
                }),
              )
              .nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: usageSchema.nullish(),
})

function stopReason(finish: string | null | undefined): StopReason {
  switch (finish) {
    case 'stop':
      return 'end'
    case 'tool_calls':
    case 'function_call':
      return 'tool_use'
    case 'length':
      return 'max_tokens'
    default:
      return 'other'
  }
}

/** The vendor's message in an error body: OpenAI's { error: { message } }, Ollama's { error }, vLLM's { message }. */
function errorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const b = body as { error?: unknown; message?: unknown; detail?: unknown }
  if (typeof b.error === 'string') return b.error
  if (typeof b.error === 'object' && b.error !== null) {
    const m = (b.error as { message?: unknown }).message
    if (typeof m === 'string') return m
  }
  if (typeof b.message === 'string') return b.message
  if (typeof b.detail === 'string') return b.detail
  return undefined
}

/** The vendor's error type: OpenAI's { error: { type } }, else its { error: { code } }. */
function errorType(body: unknown): string | undefined {
  return errorField(body, 'type') ?? errorField(body, 'code')
}

function wireMessage(m: ChatMessage, names: ToolNameMap): Record<string, unknown> {
  switch (m.role) {
    case 'system':
    case 'user':
      return { role: m.role, content: m.content }
    case 'assistant': {
      const calls = m.toolCalls ?? []
      return {
        role: 'assistant',
        content: m.content === '' && calls.length > 0 ? null : m.content,
        ...(calls.length > 0 && {
          tool_calls: calls.map((c) => ({
            id: c.id,
            type: 'function',
            function: { name: names.toVendor(c.name), arguments: JSON.stringify(c.input) },
          })),
        }),
      }
    }
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: m.content }
  }
}

function promptChars(request: ChatRequest): number {
  let chars = 0
  for (const m of request.messages) chars += m.content.length
  for (const t of request.tools ?? []) chars += t.name.length + JSON.stringify(t.inputSchema).length
  return chars
}

function replyChars(text: string, toolCalls: readonly ToolCall[]): number {
  return toolCalls.reduce((n, c) => n + c.name.length + JSON.stringify(c.input).length, text.length)
}

export function openAiProvider(options: OpenAiProviderOptions = {}): Provider {
  const provider = 'openai'
  const base = trimSlash(options.baseUrl ?? 'https://api.openai.com/v1')
  const url = `${base}/chat/completions${
    options.azureApiVersion ? `?api-version=${encodeURIComponent(options.azureApiVersion)}` : ''
  }`
  const secrets = options.apiKey ? [options.apiKey] : []
  const fetchFn = options.fetch ?? fetch
  const maxTokensField = options.maxTokensField ?? 'max_tokens'

  function headers(stream: boolean): Record<string, string> {
    const out: Record<string, string> = {
      ...options.headers,
      accept: stream ? 'text/event-stream' : 'application/json',
    }
    if (options.apiKey) {
      if (options.azureApiVersion) out['api-key'] = options.apiKey
      else out.authorization = `Bearer ${options.apiKey}`
    }
    if (options.organization) out['openai-organization'] = options.organization
    return out
  }

  function usageOr(
    usage: z.infer<typeof usageSchema> | null | undefined,
    request: ChatRequest,
    text: string,
    calls: ToolCall[],
  ): ChatResponse['usage'] {
    if (usage) return { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens }
    return { inputTokens: estimateTokens(promptChars(request)), outputTokens: estimateTokens(replyChars(text, calls)) }
  }

  async function readCompletion(response: Response, request: ChatRequest, names: ToolNameMap): Promise<ChatResponse> {
    const parsed = completionSchema.safeParse(await readJson(response, provider))
    if (!parsed.success) throw malformed(provider, parsed.error.issues[0]?.message ?? 'unexpected shape')
    const { choices, usage, model } = parsed.data
    const choice = choices[0]
    if (!choice) throw malformed(provider, 'no choices')
    const content = choice.message.content
    const text = typeof content === 'string' ? content : (content ?? []).map(partText).join('')
    const toolCalls = (choice.message.tool_calls ?? []).map((c) => ({
      id: c.id,
      name: names.fromVendor(c.function.name),
      input: toolInput(c.function.arguments),
    }))
    return {
      text,
      toolCalls,
      stopReason: stopReason(choice.finish_reason),
      usage: usageOr(usage, request, text, toolCalls),
      model: model ?? request.model,
    }
  }

  async function readStream(response: Response, request: ChatRequest, names: ToolNameMap): Promise<ChatResponse> {
    if (response.headers.get('content-type')?.includes('application/json')) {
      // A compatible server that ignored `stream`: the whole answer at once.
      const whole = await readCompletion(response, request, names)
      if (whole.text) emit(request, whole.text)
      return whole
    }
    if (!response.body) throw malformed(provider, 'no body')
    let text = ''
    let model: string | undefined
    let finish: string | null | undefined
    let usage: z.infer<typeof usageSchema> | undefined
    let finished = false
    const calls: { id: string; name: string; args: string }[] = []
    for await (const event of readSse(response.body)) {
      if (event.data === '[DONE]') {
        finished = true
        break
      }
      const json = parseJson(event.data)
      if (typeof json === 'object' && json !== null && 'error' in json)
        throw new ShiiooError(
          'UNAVAILABLE',
          `${provider} failed mid-stream: ${redact(errorMessage(json) ?? '', secrets)}`,
          {
            details: { provider, kind: 'server' },
          },
        )
      const chunk = chunkSchema.safeParse(json)
      if (!chunk.success)
        throw malformed(provider, `a stream chunk is not a completion chunk: ${event.data.slice(0, 200)}`)
      model ??= chunk.data.model ?? undefined
      if (chunk.data.usage) usage = chunk.data.usage
      for (const choice of chunk.data.choices ?? []) {
        if (choice.finish_reason) finish = choice.finish_reason
        const delta = choice.delta
        if (delta?.content) {
          text += delta.content
          emit(request, delta.content)
        }
        for (const d of delta?.tool_calls ?? []) {
          const call = (calls[d.index] ??= { id: '', name: '', args: '' })
          if (d.id) call.id = d.id
          if (d.function?.name) call.name += d.function.name
          if (d.function?.arguments) call.args += d.function.arguments
        }
      }
    }
    if (!finished && !finish)
      throw new ShiiooError('UNAVAILABLE', `${provider} stream ended before the response was complete`, {
        details: { provider, kind: 'connection' },
      })
    const toolCalls = calls
      .filter(Boolean)
      .map((c) => ({ id: c.id, name: names.fromVendor(c.name), input: toolInput(c.args) }))
    return {
      text,
      toolCalls,
      stopReason: stopReason(finish),
      usage: usageOr(usage, request, text, toolCalls),
      model: model ?? request.model,
    }
  }

  return {
    kind: provider,
    tokenAccounting: 'max_tokens',
    chat(request) {
      const stream = request.stream === true
      // vendor-safe tool names for this request; the reply's calls are mapped back
      const names = requestToolNames(request)
      const body = {
        model: request.model,
        messages: request.messages.map((m) => wireMessage(m, names)),
        ...(request.tools?.length && {
          tools: request.tools.map((t) => ({
            type: 'function',
            function: {
              name: names.toVendor(t.name),
              ...(t.description && { description: t.description }),
              parameters: t.inputSchema,
            },
          })),
        }),
        ...(request.maxTokens !== undefined && { [maxTokensField]: request.maxTokens }),
        ...(request.temperature !== undefined && { temperature: request.temperature }),
        ...(stream && { stream: true, stream_options: { include_usage: true } }),
      }
      return postJson({
        provider,
        fetch: fetchFn,
        url,
        headers: headers(stream),
        body,
        request,
        defaultTimeoutMs: options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS,
        secrets,
        errorMessage,
        errorType,
        read: (response) => (stream ? readStream(response, request, names) : readCompletion(response, request, names)),
      })
    },
  }
}

function partText(part: unknown): string {
  if (typeof part !== 'object' || part === null) return ''
  const p = part as { type?: unknown; text?: unknown }
  return p.type === 'text' && typeof p.text === 'string' ? p.text : ''
}
