/** A capacity source's state in this process: in service, cooling after a 429, breaker open, or out of service. */
export type CapacitySourceStateView = 'ok' | 'cooling' | 'breaker_open' | 'out_of_service'

/** A capacity source as configured (never its key) and as this process's pool sees it now. */
export interface CapacitySourceView {
  id: string
  provider: string
  models: string[]
  /** Higher is tried first. */
  priority: number
  enabled: boolean
  /** The agent roles it serves; null: all. */
  roles: string[] | null
  limits: {
    requestsPerMinute: number | null
    tokensPerMinute: number | null
    tokensPerDay: number | null
    maxConcurrent: number | null
  }
  /** Per million tokens; null when no price is configured. */
  prices: { inputPer1M: number; outputPer1M: number } | null
  state: CapacitySourceStateView
  /** Until when it cools or its breaker stays open (ISO-8601 UTC); null otherwise. */
  stateUntil: string | null
  /** Why it is out of service: the vendor's answer. */
  reason: string | null
  /** Calls at the source right now. */
  inFlight: number
  /** `inFlight / maxConcurrent`; null without a concurrency limit. */
  saturation: number | null
}

export interface CapacityPoolView {
  /** Model calls waiting for capacity right now (all sources). */
  queued: number
  /** Model calls at providers right now. */
  inFlight: number
  sources: CapacitySourceView[]
}
