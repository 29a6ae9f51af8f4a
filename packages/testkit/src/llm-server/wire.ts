import type { LlmConversationMessage, LlmServerRequest, LlmToolCall } from './types.js'

/** A request parsed from either wire format, before headers are attached. */
export interface ParsedLlmRequest extends Omit<LlmServerRequest, 'api' | 'headers'> {
  /** Characters of the prompt: system, messages, tool calls and tool specs. */
  promptChars: number
  /** OpenAI's stream_options.include_usage. */
  includeUsage: boolean
}

/** A reply with everything filled in, ready to be written in a wire format. */
export interface ResolvedReply {
  id: string
  /** Epoch seconds. */
  created: number
  model: string
  text: string
  toolCalls: LlmToolCall[]
  stopReason: 'end' | 'tool_use' | 'max_tokens'
  usage: { inputTokens: number; outputTokens: number }
}

export class WireError extends Error {
  constructor(
    message: string,
    /** OpenAI's `error.code` and `error.param` for this refusal. */
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message)
  }
}

/** What both vendors require of a tool (function) name. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function tokensOf(chars: number): number {
  return Math.ceil(chars / 4)
}

export function replyChars(text: string, toolCalls: readonly LlmToolCall[]): number {
  return toolCalls.reduce((n, c) => n + c.name.length + JSON.stringify(c.input ?? null).length, text.length)
}

/** Fills in lastUserText, toolResults and promptChars from the messages. */
export function summarize(
  base: Omit<ParsedLlmRequest, 'lastUserText' | 'toolResults' | 'promptChars'>,
): ParsedLlmRequest {
  const { messages, system, tools } = base
  let lastUserText = ''
  for (const m of messages) if (m.role === 'user') lastUserText = m.text
  const toolResults: ParsedLlmRequest['toolResults'] = []
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]
    if (!m || m.role === 'assistant') break
    if (m.role === 'tool') toolResults.unshift({ toolCallId: m.toolCallId ?? '', content: m.text })
  }
  let promptChars = system.length
  for (const m of messages) promptChars += m.text.length + replyChars('', m.toolCalls ?? [])
  for (const t of tools)
    promptChars += t.name.length + (t.description?.length ?? 0) + JSON.stringify(t.inputSchema).length
  return { ...base, lastUserText, toolResults, promptChars }
}

/** Every tool call of an assistant message must be answered right after it, and only those. */
export function checkToolResults(messages: readonly LlmConversationMessage[]): void {
  let open = new Set<string>()
  for (const m of messages) {
    if (m.role === 'tool') {
      if (!open.delete(m.toolCallId ?? ''))
        throw new WireError(
          `tool result ${m.toolCallId ?? '(no id)'} does not answer a tool call of the message before`,
        )
      continue
    }
    if (open.size > 0) throw new WireError(`tool calls without results: ${[...open].join(', ')}`)
    open = new Set((m.toolCalls ?? []).map((c) => c.id))
  }
}

/** Splits text into deltas of at most `size` characters. */
export function chunks(text: string, size: number): string[] {
  const out: string[] = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

export function sse(data: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`
}
