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

/** One of a vendor's rate windows, from its response headers. */
export interface RateLimitWindow {
  limit: number
  remaining: number
  /** Until the window is full again, in ms from when the response arrived. */
  resetMs: number
}

/** What a vendor's rate-limit headers said (`x-ratelimit-*`, `anthropic-ratelimit-*`). */
export interface RateLimitInfo {
  requests?: RateLimitWindow
  tokens?: RateLimitWindow
}

export interface ChatResponse {
  /** The vendor's rate-limit headers, when it sent them (the pool adapts its windows to them). */
  rateLimits?: RateLimitInfo
  text: string
  toolCalls: ToolCall[]
  stopReason: StopReason
  usage: TokenUsage
  /** The model that answered, as the vendor names it. */
  model: string
}

/**
 * An LLM vendor's API. Failures are ShiiooErrors (with `details.rateLimits`, a RateLimitInfo, when
 * the vendor sent its headers): RATE_LIMITED (429, with `details.retryAfterMs` when the vendor said), UNAVAILABLE (5xx, timeouts, dropped connections; `details.kind` says
 * which: 'server' | 'timeout' | 'connection'), UNAUTHENTICATED (401/403), INVALID_INPUT (other
 * 4xx, with the vendor's message), INTERNAL (a response that is not the vendor's format).
 */
export interface Provider {
  /** e.g. 'openai', 'anthropic', 'simulated'. */
  readonly kind: string
  /**
   * How the vendor counts a call's output against tokens per minute: the output budget it was
   * sent (`max_tokens`: OpenAI) or the output produced (`actual`: Anthropic, after holding the
   * budget while it answers). The pool settles its reservations the same way (default actual).
   */
  readonly tokenAccounting?: 'max_tokens' | 'actual'
  chat(request: ChatRequest): Promise<ChatResponse>
}
