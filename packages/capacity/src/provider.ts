import type { Json } from '@shiioo/core'

/** One message of a conversation, in the shape both vendor formats map to. */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: readonly ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string }

/** A tool the model may call: a name, what it does, and the JSON Schema of its input. */
export interface ToolSpec {
  name: string
  description?: string
  inputSchema: Record<string, Json>
}

export interface ToolCall {
  /** The vendor's id for the call; a tool result answers it by this id. */
  id: string
  name: string
  input: Json
}

export interface ChatRequest {
  model: string
  messages: readonly ChatMessage[]
  tools?: readonly ToolSpec[]
  maxTokens?: number
  temperature?: number
  /** Sent to vendors that accept one (as `Idempotency-Key`), so a retried call is not billed twice. */
  idempotencyKey?: string
  /** Aborts the call (a cancelled run, a step timeout). */
  signal?: AbortSignal
  /** The whole call, from request to last byte; a timeout is UNAVAILABLE with details.kind 'timeout'. */
  timeoutMs?: number
  /** Ask for a streamed response; `onText` receives the text as it arrives. */
  stream?: boolean
  onText?: (delta: string) => void
}

export type StopReason = 'end' | 'tool_use' | 'max_tokens' | 'other'

export interface TokenUsage {
  inputTokens: number
  outputTokens: number
}

export interface ChatResponse {
  text: string
  toolCalls: ToolCall[]
  stopReason: StopReason
  usage: TokenUsage
  /** The model that answered, as the vendor names it. */
  model: string
}

/**
 * An LLM vendor's API. Failures are ShiiooErrors: RATE_LIMITED (429, with `details.retryAfterMs`
 * when the vendor said), UNAVAILABLE (5xx, timeouts, dropped connections; `details.kind` says
 * which: 'server' | 'timeout' | 'connection'), UNAUTHENTICATED (401/403), INVALID_INPUT (other
 * 4xx, with the vendor's message), INTERNAL (a response that is not the vendor's format).
 */
export interface Provider {
  /** e.g. 'openai', 'anthropic', 'simulated'. */
  readonly kind: string
  chat(request: ChatRequest): Promise<ChatResponse>
}
