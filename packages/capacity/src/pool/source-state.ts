import type { ShiiooError } from '@shiioo/core'
import type { CapacitySource } from './types.js'

/** Why a source takes no calls: the vendor refused its key (401/403); until the process restarts. */
export interface OutOfService {
  since: number
  error: ShiiooError
}

/**
 * What this process knows of a source beyond its rate windows (those are in the CapacityLedger,
 * shared with other processes): calls in flight, the cooldown it last heard of, its breaker, and
 * whether it is out of service.
 */
export class SourceState {
  inFlight = 0
  /** No calls before this time (a 429's Retry-After); the ledger holds it for every process too. */
  coolUntil = 0
  /** Consecutive failures; the breaker opens at the threshold. */
  failures = 0
  openUntil = 0
  /** An open breaker lets one probe through after its cooldown (half-open). */
  probing = false
  outOfService: OutOfService | null = null

  constructor(readonly source: CapacitySource) {}

  get id(): string {
    return this.source.id
  }

  /** Configured to serve this call (whether or not it is in service). */
  serves(model: string, tenant: string, role: string | undefined): boolean {
    const s = this.source
    if (s.enabled === false || !s.models.includes(model)) return false
    if (s.tenants && !s.tenants.includes(tenant)) return false
    if (s.roles && (role === undefined || !s.roles.includes(role))) return false
    return true
  }

  /** The earliest time this process may send the source a call, its windows aside (Infinity: not now). */
  availableAt(now: number): number {
    if (this.outOfService) return Infinity
    const l = this.source.limits ?? {}
    let at = Math.max(now, this.coolUntil)
    if (this.openUntil > now || (this.openUntil > 0 && this.probing)) {
      at = Math.max(at, this.probing ? Infinity : this.openUntil)
    }
    if (l.maxConcurrent !== undefined && this.inFlight >= l.maxConcurrent) at = Infinity
    return at
  }

  /** A call tokens long can never fit its per-minute or per-day tokens. */
  tooLarge(tokens: number): boolean {
    const l = this.source.limits ?? {}
    return (
      (l.tokensPerMinute !== undefined && tokens > l.tokensPerMinute) ||
      (l.tokensPerDay !== undefined && tokens > l.tokensPerDay)
    )
  }

  started(now: number): void {
    this.inFlight++
    if (this.openUntil > 0 && this.openUntil <= now) this.probing = true
  }

  succeeded(): void {
    this.failures = 0
    this.openUntil = 0
    this.probing = false
  }

  /** A failure that says the source is unwell (5xx, timeout, connection). */
  failed(now: number, threshold: number, openMs: number): void {
    this.failures++
    const wasProbe = this.probing
    this.probing = false
    if (wasProbe || this.failures >= threshold) this.openUntil = now + openMs
  }
}
