import type { Clock } from '@shiioo/core'

/** Which vendor's wire format a request arrived in. */
export type LlmApi = 'openai' | 'anthropic'

export interface LlmToolCall {
  id: string
  name: string
  input: unknown
}

/** One message of a request, the same for both wire formats (tool results are `tool` messages). */
export interface LlmConversationMessage {
  role: 'user' | 'assistant' | 'tool'
  text: string
  toolCalls?: LlmToolCall[]
  toolCallId?: string
}

/** A request as the reply script sees it. */
export interface LlmServerRequest {
  api: LlmApi
  model: string
  /** The system prompt(s), joined by blank lines. */
  system: string
  messages: LlmConversationMessage[]
  tools: { name: string; description?: string; inputSchema: unknown }[]
  /** The text of the last user message, '' if none. */
  lastUserText: string
  /** Tool results that follow the last assistant message. */
  toolResults: { toolCallId: string; content: string }[]
  maxTokens: number | undefined
  stream: boolean
  /** Lower-cased request headers. */
  headers: Record<string, string>
}

/** What the model answers: text, tool calls, or both. Ids, stop reason and usage are filled in when absent. */
export interface LlmReply {
  text?: string
  toolCalls?: { id?: string; name: string; input: unknown }[]
  stopReason?: 'end' | 'tool_use' | 'max_tokens'
  usage?: { inputTokens?: number; outputTokens?: number }
  /** The model named in the response (default: the requested one). */
  model?: string
}

export type LlmReplyFn = (request: LlmServerRequest) => LlmReply | Promise<LlmReply>

export interface LlmRateLimits {
  /** Admitted requests in any sliding 60 s window. */
  requestsPerMinute?: number
  /** Tokens of admitted requests in any sliding 60 s window: prompt estimate + output (see `countOutput`). */
  tokensPerMinute?: number
  /** Requests in flight at once. */
  maxConcurrent?: number
  /**
   * How a request's output is counted against tokensPerMinute. Either way its `max_tokens` is held
   * when it arrives (a request that does not fit is refused with a 429); 'max_tokens' keeps it
   * (OpenAI's rule), 'actual' corrects it to the output produced once the reply is known
   * (Anthropic's). Default: the rule of the API the request came in.
   */
  countOutput?: 'max_tokens' | 'actual'
}

export interface LlmFaults {
  /** Share (0..1) of admitted requests answered with `errorStatus`; drawn from a seeded generator. */
  errorRate: number
  errorStatus: number
  /** Wait before the status line of every admitted request. */
  headerDelayMs: number
  /** Wait between the chunks of a response (stream events; the two halves of a JSON body). */
  chunkDelayMs: number
}

export interface LlmTestServerOptions {
  /** The key every request must carry (default 'test-key'). */
  apiKey?: string
  /** Time for rate windows, delays and timestamps (default: the system clock). */
  clock?: Clock
  limits?: LlmRateLimits
  /** Answers requests when the reply queue is empty (default: a deterministic echo). */
  reply?: LlmReplyFn
  /** Serve every route under this path too, e.g. '/proxy' gives '/proxy/v1/chat/completions'. */
  pathPrefix?: string
  faults?: Partial<LlmFaults>
  /** Seed of the generator behind `errorRate` (default 1). */
  seed?: number
  /** Characters of text per stream delta (default 8). */
  streamChunkChars?: number
}

export type LlmOutcome =
  | 'pending'
  | 'ok'
  | 'rate_limited'
  | 'server_error'
  | 'unauthorized'
  | 'invalid'
  | 'not_found'
  | 'dropped'
  | 'client_aborted'

export interface RecordedLlmRequest {
  seq: number
  /** Arrival time on the server's clock. */
  at: number
  api: LlmApi | undefined
  method: string
  path: string
  query: Record<string, string>
  /** Lower-cased request headers, as received. */
  headers: Record<string, string>
  idempotencyKey: string | undefined
  /** The parsed JSON body (the raw text if it was not JSON). */
  body: unknown
  /** The Azure deployment named in the path, if any. */
  deployment: string | undefined
  stream: boolean
  status: number | undefined
  outcome: LlmOutcome
  /** Tokens counted against tokensPerMinute (0 unless admitted). */
  tokens: number
}

export interface LlmMinuteStats {
  /** Start of the minute, epoch ms on the server's clock. */
  minute: number
  requests: number
  ok: number
  rateLimited: number
  serverErrors: number
  /** Tokens of the requests admitted in this minute. */
  tokens: number
}

export interface LlmServerStats {
  requests: number
  ok: number
  rateLimited: number
  serverErrors: number
  unauthorized: number
  invalid: number
  dropped: number
  clientAborted: number
  /** The most requests that were in flight at once. */
  peakConcurrent: number
  /** The most requests admitted in any sliding 60 s window. */
  peakRequestsPerMinute: number
  /** The most tokens counted in any sliding 60 s window. */
  peakTokensPerMinute: number
  byMinute: LlmMinuteStats[]
}

export interface LlmTestServer {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string
  /** Base URL for OpenAI-compatible clients (ends in /v1). */
  readonly openAiBaseUrl: string
  /** Base URL for Anthropic clients (the client appends /v1/messages). */
  readonly anthropicBaseUrl: string
  /** Base URL of an Azure OpenAI deployment (the client appends /chat/completions?api-version=...). */
  azureBaseUrl(deployment: string): string
  readonly apiKey: string
  /** Every request received, in arrival order. */
  readonly requests: readonly RecordedLlmRequest[]
  stats(): LlmServerStats
  /** Replies used, in order, before the reply function. */
  enqueue(...replies: LlmReply[]): void
  setReply(reply: LlmReplyFn | undefined): void
  setLimits(limits: LlmRateLimits): void
  setFaults(faults: Partial<LlmFaults>): void
  /** The next `count` admitted requests fail with `status` (default 500). */
  failNext(count: number, status?: number): void
  /** The next `count` admitted requests lose their connection: before the headers, or halfway through the body. */
  dropNext(count: number, when?: 'before-headers' | 'mid-body'): void
  /** No faults, no pending failures or drops. */
  clearFaults(): void
  /** Forgets recorded requests, statistics and the rate windows. */
  reset(): void
  close(): Promise<void>
}
