import type { LlmRateLimits } from './types.js'

export const WINDOW_MS = 60_000

export interface WindowEntry {
  at: number
  tokens: number
}

export type Admission =
  { ok: true } | { ok: false; limit: 'requests' | 'tokens' | 'concurrency'; retryAfterMs: number; message: string }

/** The sliding 60 s windows of requests and tokens, plus the count in flight. */
export class RateWindow {
  private entries: WindowEntry[] = []
  inFlight = 0

  constructor(public limits: LlmRateLimits) {}

  private live(now: number): WindowEntry[] {
    this.entries = this.entries.filter((e) => e.at > now - WINDOW_MS)
    return this.entries
  }

  usage(now: number): { requests: number; tokens: number } {
    const live = this.live(now)
    return { requests: live.length, tokens: live.reduce((sum, e) => sum + e.tokens, 0) }
  }

  admit(now: number, tokens: number): Admission {
    const { maxConcurrent, requestsPerMinute: rpm, tokensPerMinute: tpm } = this.limits
    if (maxConcurrent !== undefined && this.inFlight >= maxConcurrent) {
      return {
        ok: false,
        limit: 'concurrency',
        retryAfterMs: 1000,
        message: `Too many concurrent requests: limit ${maxConcurrent}, in flight ${this.inFlight}.`,
      }
    }
    const live = this.live(now)
    if (rpm !== undefined && live.length >= rpm) {
      // The window frees a slot when its oldest entries leave it.
      const freeing = live[live.length - rpm]
      return {
        ok: false,
        limit: 'requests',
        retryAfterMs: freeing ? freeing.at + WINDOW_MS - now : WINDOW_MS,
        message: `Rate limit reached for requests per min (RPM): Limit ${rpm}, Used ${live.length}, Requested 1.`,
      }
    }
    if (tpm !== undefined) {
      const used = live.reduce((sum, e) => sum + e.tokens, 0)
      if (used + tokens > tpm) {
        let retryAfterMs = WINDOW_MS
        if (tokens <= tpm) {
          let freed = 0
          for (const e of live) {
            freed += e.tokens
            if (used - freed + tokens <= tpm) {
              retryAfterMs = e.at + WINDOW_MS - now
              break
            }
          }
        }
        return {
          ok: false,
          limit: 'tokens',
          retryAfterMs,
          message:
            tokens > tpm
              ? `Request too large for tokens per min (TPM): Limit ${tpm}, Requested ${tokens}.`
              : `Rate limit reached for tokens per min (TPM): Limit ${tpm}, Used ${used}, Requested ${tokens}.`,
        }
      }
    }
    return { ok: true }
  }

  add(now: number, tokens: number): WindowEntry {
    const entry = { at: now, tokens }
    this.entries.push(entry)
    return entry
  }

  /** Time until the oldest entry leaves the window, for the reset headers. */
  resetInMs(now: number): number {
    const oldest = this.live(now)[0]
    return oldest ? oldest.at + WINDOW_MS - now : 0
  }

  clear(): void {
    this.entries = []
  }
}

/** The most entries, and the most tokens, in any sliding window over a list of admissions. */
export function peaks(entries: readonly WindowEntry[]): { requests: number; tokens: number } {
  const sorted = [...entries].sort((a, b) => a.at - b.at)
  let start = 0
  let tokens = 0
  let peakRequests = 0
  let peakTokens = 0
  sorted.forEach((e, i) => {
    tokens += e.tokens
    for (let first = sorted[start]; first && first.at <= e.at - WINDOW_MS; first = sorted[++start])
      tokens -= first.tokens
    peakRequests = Math.max(peakRequests, i - start + 1)
    peakTokens = Math.max(peakTokens, tokens)
  })
  return { requests: peakRequests, tokens: peakTokens }
}
