import type { CapacitySource } from './types.js'
import { SlidingWindow } from './window.js'

const MINUTE = 60_000
const DAY = 86_400_000

/** What the pool knows about a source right now: its windows, calls in flight, cooldown and breaker. */
export class SourceState {
  readonly requests: SlidingWindow
  readonly tokens: SlidingWindow
  readonly dayTokens: SlidingWindow
  inFlight = 0
  /** No calls before this time (a 429's Retry-After). */
  coolUntil = 0
  /** Consecutive failures; the breaker opens at the threshold. */
  failures = 0
  openUntil = 0
  /** An open breaker lets one probe through after its cooldown (half-open). */
  probing = false
  /** Tokens served, for fairness between tenants. */
  served = 0

  /**
   * `slackMs` widens the windows: a call reserved at t reaches the vendor a little later, and the
   * vendor's window holds it until then plus a minute; without slack the pool would admit the next
   * call a moment too early and meet a 429.
   */
  constructor(
    readonly source: CapacitySource,
    slackMs: number,
  ) {
    this.requests = new SlidingWindow(MINUTE + slackMs)
    this.tokens = new SlidingWindow(MINUTE + slackMs)
    this.dayTokens = new SlidingWindow(DAY + slackMs)
  }

  serves(model: string, tenant: string, role: string | undefined): boolean {
    const s = this.source
    if (s.enabled === false || !s.models.includes(model)) return false
    if (s.tenants && !s.tenants.includes(tenant)) return false
    if (s.roles && (role === undefined || !s.roles.includes(role))) return false
    return true
  }

  /** The earliest time this source can take a call of `tokens` (now when it can at once). */
  availableAt(now: number, tokens: number): number {
    const l = this.source.limits ?? {}
    let at = Math.max(now, this.coolUntil)
    if (this.openUntil > now || (this.openUntil > 0 && this.probing)) {
      at = Math.max(at, this.probing ? Infinity : this.openUntil)
    }
    if (l.maxConcurrent !== undefined && this.inFlight >= l.maxConcurrent) at = Infinity
    if (l.requestsPerMinute !== undefined) at = Math.max(at, this.requests.freeAt(now, 1, l.requestsPerMinute))
    if (l.tokensPerMinute !== undefined) at = Math.max(at, this.tokens.freeAt(now, tokens, l.tokensPerMinute))
    if (l.tokensPerDay !== undefined) at = Math.max(at, this.dayTokens.freeAt(now, tokens, l.tokensPerDay))
    return at
  }

  /** Counts a call against the limits; returns handles to settle its tokens with the real usage. */
  reserve(now: number, tokens: number): { tokens: number; day: number } {
    this.inFlight++
    if (this.openUntil > 0 && this.openUntil <= now) this.probing = true
    this.requests.add(now, 1)
    return { tokens: this.tokens.add(now, tokens), day: this.dayTokens.add(now, tokens) }
  }

  settle(handles: { tokens: number; day: number }, tokens: number): void {
    this.inFlight--
    this.tokens.settle(handles.tokens, tokens)
    this.dayTokens.settle(handles.day, tokens)
  }

  succeeded(): void {
    this.failures = 0
    this.openUntil = 0
    this.probing = false
  }

  /** A failure that says the source is unwell (5xx, timeout, connection, bad key). */
  failed(now: number, threshold: number, openMs: number): void {
    this.failures++
    const wasProbe = this.probing
    this.probing = false
    if (wasProbe || this.failures >= threshold) this.openUntil = now + openMs
  }
}
