/**
 * The rate windows of LLM capacity sources, shared by every process that calls them: each
 * process's pool reserves a call against a source's windows here before it sends it, so processes
 * on one data dir (one cluster, later) together stay within the vendor's limits. Amounts are
 * requests and tokens over a minute (plus its slack) and tokens over a day.
 */
export interface LedgerLimits {
  requestsPerMinute?: number
  tokensPerMinute?: number
  tokensPerDay?: number
}

/** A reservation, to settle once the vendor said what the call used. */
export interface LedgerReservation {
  id: string
  /** When it was made (the caller's clock). */
  at: number
  tokens: number
}

export type LedgerReserveResult = { ok: true; reservation: LedgerReservation } | { ok: false; at: number }

/** One of a vendor's windows as its rate-limit headers describe it. */
export interface VendorWindow {
  limit: number
  remaining: number
  /** When the window is full again (epoch ms). */
  resetAt: number
}

export interface LedgerObservation {
  source: string
  now: number
  /** The slack of the windows, as for `reserve`. */
  slackMs: number
  requests?: VendorWindow
  tokens?: VendorWindow
  /** No call before this time (a 429's Retry-After). */
  coolUntil?: number
}

/** A source's windows as they stand. */
export interface LedgerUsage {
  requests: number
  tokens: number
  dayTokens: number
  coolUntil: number
  /** The limits the vendor announced, when lower than ours and still current. */
  vendorLimits: { requestsPerMinute?: number; tokensPerMinute?: number }
}

/** A reservation asked for: one request and `tokens` of the source's windows at `now`. */
export interface LedgerReserveRequest {
  source: string
  now: number
  tokens: number
  limits: LedgerLimits
  /** A window spans a minute plus this. */
  slackMs: number
}

export interface CapacityLedger {
  /**
   * Counts one request and `tokens` against the source's windows if they fit under `limits` (and
   * under what the vendor announced) at `now`; otherwise says when they may (Infinity: never).
   * A window spans a minute plus `slackMs`.
   */
  reserve(o: LedgerReserveRequest): Promise<LedgerReserveResult>
  /** Replaces a reservation's tokens with what the vendor counted. */
  settle(o: { source: string; reservation: LedgerReservation; tokens: number }): Promise<void>
  /** What a vendor said about its windows: its limits, what remains, when they reset; a cooldown. */
  observe(o: LedgerObservation): Promise<void>
  usage(o: { source: string; now: number; slackMs: number }): Promise<LedgerUsage>
}
