import type { ChatRequest, ChatResponse, Provider } from '../provider.js'

export interface SourceLimits {
  requestsPerMinute?: number
  tokensPerMinute?: number
  tokensPerDay?: number
  maxConcurrent?: number
}

/** Prices per million tokens, in the ledger's currency (USD unless configured otherwise). */
export interface SourcePrices {
  inputPer1M: number
  outputPer1M: number
}

/** One place calls can go: a provider at a base URL with one key, its models, limits and prices. */
export interface CapacitySource {
  id: string
  provider: Provider
  models: readonly string[]
  limits?: SourceLimits
  prices?: SourcePrices
  /** Higher is tried first (default 0). */
  priority?: number
  /** Tenants and agent roles that may use it; absent means all. */
  tenants?: readonly string[]
  roles?: readonly string[]
  enabled?: boolean
  /**
   * How the vendor counts a call's output against tokens per minute: the output budget it was
   * sent (`max_tokens`, OpenAI's rule) or the output actually produced. The pool settles each
   * reservation the same way, so its windows match the vendor's. Default: what the provider says
   * (`Provider.tokenAccounting`), else actual.
   */
  tokenAccounting?: 'actual' | 'max_tokens'
}

/** A source as the pool sees it now. */
export interface SourceStatus {
  id: string
  /** ok; cooling (after a 429, until `until`); breaker_open (after failures); out_of_service (its key was refused). */
  state: 'ok' | 'cooling' | 'breaker_open' | 'out_of_service'
  inFlight: number
  until?: number
  /** Why it is out of service: the vendor's answer. */
  reason?: string
}

export interface PoolCall {
  tenant: string
  role?: string
  model: string
  chat: Omit<ChatRequest, 'model' | 'signal'>
  /** Higher is admitted first when capacity is short (default 0). */
  priority?: number
  signal?: AbortSignal
  /** How long the call may wait for capacity before it fails with UNAVAILABLE (default 10 minutes). */
  maxWaitMs?: number
  /**
   * Told when the call starts waiting for capacity ('waiting': no source could take it at once)
   * and when a source takes it after such a wait ('admitted'), so a caller can keep time spent
   * queued apart from time spent calling (an attempt's timeout counts only the latter).
   */
  onQueue?: (state: 'waiting' | 'admitted') => void
  /**
   * Asks the provider to stream and receives the reply's text as the vendor sends it, with the
   * source answering and which of the call's attempts it is (a failover starts the text again, as
   * attempt 2 of another source). Nothing of it is stored; the response is what counts.
   */
  onText?: (delta: string, from: { source: string; attempt: number }) => void
  /** Where the call comes from, for the cost ledger. */
  context?: { runId?: string; stepId?: string; workflow?: string }
}

export interface PoolResult {
  response: ChatResponse
  sourceId: string
  /** Cost of this call in the ledger's currency. */
  cost: number
  /** Calls made to providers for it (more than 1 after a failover). */
  attempts: number
  /** Time spent queued for capacity, in ms. */
  queuedMs: number
}

/** What the ledger records for every call that reached a provider. */
export interface CallRecord {
  at: number
  tenant: string
  role: string | undefined
  model: string
  sourceId: string
  context: PoolCall['context']
  inputTokens: number
  outputTokens: number
  cost: number
  ok: boolean
  errorCode: string | undefined
  durationMs: number
}
