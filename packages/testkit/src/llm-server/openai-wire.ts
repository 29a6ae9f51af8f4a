import type { LlmConversationMessage, LlmToolCall } from './types.js'
import type { ParsedLlmRequest, ResolvedReply } from './wire.js'
import { TOOL_NAME_PATTERN, WireError, checkToolResults, chunks, isRecord, sse, summarize } from './wire.js'

/** OpenAI Chat Completions: https://platform.openai.com/docs/api-reference/chat */

function textOf(content: unknown, where: string): string {
  if (content === null || content === undefined) return ''
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    return content
      .map((part) => (isRecord(part) && part.type === 'text' && typeof part.text === 'string' ? part.text : ''))
      .join('')
  }
  throw new WireError(`Invalid type for '${where}': expected a string or an array of content parts.`)
}

function toolCallsOf(value: unknown, where: string): LlmToolCall[] | undefined {
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw new WireError(`Invalid type for '${where}': expected an array.`)
  return value.map((c, i) => {
    const fn = isRecord(c) ? c.function : undefined
    if (!isRecord(c) || typeof c.id !== 'string' || !isRecord(fn) || typeof fn.name !== 'string')
      throw new WireError(
        `Invalid value for '${where}[${i}]': expected { id, type: 'function', function: { name, arguments } }.`,
      )
    checkFunctionName(fn.name, `${where}[${i}].function.name`)
    const args = typeof fn.arguments === 'string' ? fn.arguments : ''
    let input: unknown
    try {
      input = args === '' ? {} : JSON.parse(args)
    } catch {
      throw new WireError(`Invalid value for '${where}[${i}].function.arguments': not valid JSON.`)
    }
    return { id: c.id, name: fn.name, input }
  })
}

/** OpenAI's refusal of a function name: too long, or outside `^[a-zA-Z0-9_-]+$`. */
function checkFunctionName(name: string, param: string): void {
  if (name.length > 64)
    throw new WireError(
      `Invalid '${param}': string too long. Expected a string with maximum length 64, but got a string with length ${name.length} instead.`,
      'string_above_max_length',
      param,
    )
  if (!TOOL_NAME_PATTERN.test(name))
    throw new WireError(
      `Invalid '${param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
      'invalid_value',
      param,
    )
}

export function parseOpenAiRequest(body: unknown, deployment: string | undefined): ParsedLlmRequest {
  if (!isRecord(body)) throw new WireError('The request body must be a JSON object.')
  const model = typeof body.model === 'string' ? body.model : deployment
  if (!model) throw new WireError("Missing required parameter: 'model'.")
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw new WireError("Missing required parameter: 'messages'.")
  const system: string[] = []
  const messages: LlmConversationMessage[] = []
  body.messages.forEach((m: unknown, i) => {
    const where = `messages[${i}]`
    if (!isRecord(m)) throw new WireError(`Invalid type for '${where}': expected an object.`)
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(textOf(m.content, `${where}.content`))
        break
      case 'user':
        messages.push({ role: 'user', text: textOf(m.content, `${where}.content`) })
        break
      case 'assistant': {
        const toolCalls = toolCallsOf(m.tool_calls, `${where}.tool_calls`)
        messages.push({
          role: 'assistant',
          text: textOf(m.content, `${where}.content`),
          ...(toolCalls && { toolCalls }),
        })
        break
      }
      case 'tool':
        if (typeof m.tool_call_id !== 'string')
          throw new WireError(`Missing required parameter: '${where}.tool_call_id'.`)
        messages.push({ role: 'tool', toolCallId: m.tool_call_id, text: textOf(m.content, `${where}.content`) })
        break
      default:
        throw new WireError(`Invalid value for '${where}.role': ${JSON.stringify(m.role)}.`)
    }
  })
  try {
    checkToolResults(messages)
  } catch (err) {
    throw new WireError(
      `Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls' (${(err as Error).message}).`,
    )
  }
  const tools = (Array.isArray(body.tools) ? body.tools : []).map((t: unknown, i) => {
    const fn = isRecord(t) ? t.function : undefined
    if (!isRecord(t) || t.type !== 'function' || !isRecord(fn) || typeof fn.name !== 'string')
      throw new WireError(
        `Invalid value for 'tools[${i}]': expected { type: 'function', function: { name, parameters } }.`,
      )
    checkFunctionName(fn.name, `tools[${i}].function.name`)
    return {
      name: fn.name,
      ...(typeof fn.description === 'string' && { description: fn.description }),
      inputSchema: fn.parameters ?? {},
    }
  })
  const maxTokens = body.max_completion_tokens ?? body.max_tokens
  if (maxTokens !== undefined && maxTokens !== null && (typeof maxTokens !== 'number' || maxTokens < 1))
    throw new WireError("Invalid value for 'max_tokens': expected a positive integer.")
  const streamOptions = body.stream_options
  return summarize({
    model,
    system: system.join('\n\n'),
    messages,
    tools,
    maxTokens: typeof maxTokens === 'number' ? maxTokens : undefined,
    stream: body.stream === true,
    includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
  })
}

const FINISH = { end: 'stop', tool_use: 'tool_calls', max_tokens: 'length' } as const

function usageOf(r: ResolvedReply): Record<string, number> {
  const { inputTokens, outputTokens } = r.usage
  return { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens }
}

export function openAiCompletion(r: ResolvedReply): unknown {
  const toolCalls = r.toolCalls.map((c) => ({
    id: c.id,
    type: 'function',
    function: { name: c.name, arguments: JSON.stringify(c.input ?? {}) },
  }))
  return {
    id: r.id,
    object: 'chat.completion',
    created: r.created,
    model: r.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: r.text === '' && toolCalls.length > 0 ? null : r.text,
          ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
        },
        logprobs: null,
        finish_reason: FINISH[r.stopReason],
      },
    ],
    usage: usageOf(r),
  }
}

/** The SSE frames of a streamed completion, `data: [DONE]` last. */
export function openAiStreamFrames(r: ResolvedReply, includeUsage: boolean, chunkChars: number): string[] {
  const chunk = (delta: unknown, finish: string | null = null): string =>
    sse({
      id: r.id,
      object: 'chat.completion.chunk',
      created: r.created,
      model: r.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage && { usage: null }),
    })
  const frames = [chunk({ role: 'assistant', content: '' })]
  for (const piece of chunks(r.text, chunkChars)) frames.push(chunk({ content: piece }))
  r.toolCalls.forEach((c, index) => {
    frames.push(
      chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }),
    )
    for (const piece of chunks(JSON.stringify(c.input ?? {}), chunkChars))
      frames.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }))
  })
  frames.push(chunk({}, FINISH[r.stopReason]))
  if (includeUsage)
    frames.push(
      sse({
        id: r.id,
        object: 'chat.completion.chunk',
        created: r.created,
        model: r.model,
        choices: [],
        usage: usageOf(r),
      }),
    )
  frames.push(sse('[DONE]'))
  return frames
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  404: 'invalid_request_error',
  429: 'requests',
}

export function openAiError(
  status: number,
  message: string,
  code: string | null = null,
  type?: string,
  param: string | null = null,
): unknown {
  return {
    error: {
      message,
      type: type ?? ERROR_TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param,
      code,
    },
  }
}

/** `x-ratelimit-reset-*` durations look like "1s", "6m0s", "20ms". */
export function openAiDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`
  const s = Math.ceil(ms / 1000)
  if (s < 60) return `${s}s`
  const h = Math.floor(s / 3600)
  const rest = `${Math.floor((s % 3600) / 60)}m${s % 60}s`
  return h > 0 ? `${h}h${rest}` : rest
}
