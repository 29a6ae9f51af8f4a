import type { LlmConversationMessage, LlmToolCall } from './types.js'
import type { ParsedLlmRequest, ResolvedReply } from './wire.js'
import { TOOL_NAME_PATTERN, WireError, checkToolResults, chunks, isRecord, sse, summarize } from './wire.js'

/** Anthropic Messages: https://docs.anthropic.com/en/api/messages */

function blockText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content.map((b) => (isRecord(b) && b.type === 'text' && typeof b.text === 'string' ? b.text : '')).join('')
}

function messagesOf(raw: unknown[]): LlmConversationMessage[] {
  const messages: LlmConversationMessage[] = []
  raw.forEach((m: unknown, i) => {
    const where = `messages.${i}`
    if (!isRecord(m) || (m.role !== 'user' && m.role !== 'assistant'))
      throw new WireError(`${where}.role: Input should be 'user' or 'assistant'`)
    if (i === 0 && m.role !== 'user') throw new WireError('messages: first message must use the "user" role')
    if (typeof m.content === 'string') {
      messages.push({ role: m.role, text: m.content })
      return
    }
    if (!Array.isArray(m.content)) throw new WireError(`${where}.content: Input should be a valid list`)
    let text = ''
    const toolCalls: LlmToolCall[] = []
    const results: LlmConversationMessage[] = []
    m.content.forEach((b: unknown, j) => {
      const at = `${where}.content.${j}`
      if (!isRecord(b)) throw new WireError(`${at}: Input should be a valid dictionary`)
      switch (b.type) {
        case 'text':
          if (typeof b.text !== 'string') throw new WireError(`${at}.text: Field required`)
          text += b.text
          break
        case 'tool_use':
          if (m.role !== 'assistant') throw new WireError(`${at}: tool_use blocks belong to assistant messages`)
          if (typeof b.id !== 'string' || typeof b.name !== 'string' || !isRecord(b.input))
            throw new WireError(`${at}: tool_use needs id, name and an object input`)
          if (!TOOL_NAME_PATTERN.test(b.name))
            throw new WireError(`${at}.tool_use.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`)
          toolCalls.push({ id: b.id, name: b.name, input: b.input })
          break
        case 'tool_result':
          if (m.role !== 'user') throw new WireError(`${at}: tool_result blocks belong to user messages`)
          if (typeof b.tool_use_id !== 'string') throw new WireError(`${at}.tool_use_id: Field required`)
          results.push({ role: 'tool', toolCallId: b.tool_use_id, text: blockText(b.content) })
          break
        default:
          break
      }
    })
    if (m.role === 'assistant') messages.push({ role: 'assistant', text, ...(toolCalls.length > 0 && { toolCalls }) })
    else {
      messages.push(...results)
      if (text !== '' || results.length === 0) messages.push({ role: 'user', text })
    }
  })
  return messages
}

export function parseAnthropicRequest(body: unknown): ParsedLlmRequest {
  if (!isRecord(body)) throw new WireError('The request body must be a JSON object.')
  if (typeof body.model !== 'string') throw new WireError('model: Field required')
  if (typeof body.max_tokens !== 'number' || !Number.isInteger(body.max_tokens) || body.max_tokens < 1)
    throw new WireError('max_tokens: Field required')
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw new WireError('messages: at least one message is required')
  const messages = messagesOf(body.messages)
  try {
    checkToolResults(messages)
  } catch (err) {
    throw new WireError(
      `messages: each tool_use block must have a corresponding tool_result block in the next message (${(err as Error).message})`,
    )
  }
  const tools = (Array.isArray(body.tools) ? body.tools : []).map((t: unknown, i) => {
    if (!isRecord(t) || typeof t.name !== 'string' || !isRecord(t.input_schema))
      throw new WireError(`tools.${i}: a tool needs a name and an input_schema`)
    // Anthropic's validation message, as it answers it (pydantic's wording)
    if (!TOOL_NAME_PATTERN.test(t.name))
      throw new WireError(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`)
    return {
      name: t.name,
      ...(typeof t.description === 'string' && { description: t.description }),
      inputSchema: t.input_schema,
    }
  })
  return summarize({
    model: body.model,
    system: blockText(body.system),
    messages,
    tools,
    maxTokens: body.max_tokens,
    stream: body.stream === true,
    includeUsage: false,
  })
}

const STOP = { end: 'end_turn', tool_use: 'tool_use', max_tokens: 'max_tokens' } as const

function contentOf(r: ResolvedReply): unknown[] {
  return [
    ...(r.text !== '' || r.toolCalls.length === 0 ? [{ type: 'text', text: r.text }] : []),
    ...r.toolCalls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: c.input ?? {} })),
  ]
}

export function anthropicMessage(r: ResolvedReply): unknown {
  return {
    id: r.id,
    type: 'message',
    role: 'assistant',
    model: r.model,
    content: contentOf(r),
    stop_reason: STOP[r.stopReason],
    stop_sequence: null,
    usage: { input_tokens: r.usage.inputTokens, output_tokens: r.usage.outputTokens },
  }
}

/** The SSE events of a streamed message: message_start ... message_stop. */
export function anthropicStreamFrames(r: ResolvedReply, chunkChars: number): string[] {
  const ev = (type: string, data: Record<string, unknown>): string => sse({ type, ...data }, type)
  const frames = [
    ev('message_start', {
      message: {
        id: r.id,
        type: 'message',
        role: 'assistant',
        model: r.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: r.usage.inputTokens, output_tokens: 1 },
      },
    }),
  ]
  contentOf(r).forEach((block, index) => {
    const b = block as { type: string; text?: string; id?: string; name?: string; input?: unknown }
    if (b.type === 'text') {
      frames.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }))
      if (index === 0) frames.push(ev('ping', {}))
      for (const piece of chunks(b.text ?? '', chunkChars))
        frames.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }))
    } else {
      frames.push(
        ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }),
      )
      for (const piece of chunks(JSON.stringify(b.input), chunkChars))
        frames.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }))
    }
    frames.push(ev('content_block_stop', { index }))
  })
  frames.push(
    ev('message_delta', {
      delta: { stop_reason: STOP[r.stopReason], stop_sequence: null },
      usage: { output_tokens: r.usage.outputTokens },
    }),
  )
  frames.push(ev('message_stop', {}))
  return frames
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
  503: 'overloaded_error',
}

export function anthropicError(status: number, message: string, requestId: string): unknown {
  return {
    type: 'error',
    error: { type: ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'), message },
    request_id: requestId,
  }
}
