import type { Clock, Logger } from '@shiioo/core'
import { ShiiooError, isShiiooError, silentLogger, systemClock } from '@shiioo/core'
import type { ChatResponse } from '../provider.js'
import { DEFAULT_MAX_TOKENS, estimateTokens } from './estimate.js'
import { SourceState } from './source-state.js'
import type { CallRecord, CapacitySource, PoolCall, PoolResult } from './types.js'
import { SlidingWindow } from './window.js'

export interface PoolOptions {
  sources: readonly CapacitySource[]
  clock?: Clock
  logger?: Logger
  /** Calls to providers per pool call before it fails with the last error (default 6). */
  maxAttempts?: number
  /** Cooldown after a 429 that gave no Retry-After (default 1 s). */
  defaultCooldownMs?: number
  /** Consecutive failures that open a source's breaker (default 3), and how long it stays open (default 30 s). */
  breakerThreshold?: number
  breakerOpenMs?: number
  /** How much later than its reservation a call may reach the vendor's window (default 1 s). */
  windowSlackMs?: number
  /** Receives every call that reached a provider: the cost ledger's feed. */
  onCall?: (record: CallRecord) => void
}

interface Waiter {
  call: PoolCall
  tokens: number
  priority: number
  enqueuedAt: number
  attempts: number
  /** Sources that failed this call: tried again only when no other can serve it. */
  failedOn: Set<string>
  lastError: ShiiooError | null
  resolve: (r: PoolResult) => void
  reject: (e: unknown) => void
  expire: () => void
}

const FAILOVER_CODES = new Set(['RATE_LIMITED', 'UNAVAILABLE', 'UNAUTHENTICATED'])

/**
 * The capacity pool: admits LLM calls to sources under their limits, queues what does not fit
 * (fairly between tenants, by priority) instead of sending it into 429s, fails over on 429, 5xx,
 * timeouts and connection errors with cooldowns and a breaker per source, and settles every
 * reservation with the real usage. A call resolves or rejects with a typed error; none is dropped.
 */
export class CapacityPool {
  private readonly sources: SourceState[]
  private readonly clock: Clock
  private readonly logger: Logger
  private readonly waiting: Waiter[] = []
  private readonly tenantUse = new Map<string, SlidingWindow>()
  private wake: { at: number; cancel: () => void } | null = null
  private closed = false

  constructor(private readonly options: PoolOptions) {
    const ids = new Set<string>()
    for (const s of options.sources) {
      if (ids.has(s.id)) throw new ShiiooError('INVALID_INPUT', `two capacity sources are named "${s.id}"`)
      ids.add(s.id)
    }
    this.sources = options.sources.map((s) => new SourceState(s, options.windowSlackMs ?? 1000))
    this.clock = options.clock ?? systemClock
    this.logger = options.logger ?? silentLogger
  }

  /** Calls at providers right now. */
  get inFlight(): number {
    return this.sources.reduce((n, s) => n + s.inFlight, 0)
  }

  /** Calls waiting for capacity right now. */
  get queued(): number {
    return this.waiting.length
  }

  call(call: PoolCall): Promise<PoolResult> {
    if (this.closed) return Promise.reject(new ShiiooError('UNAVAILABLE', 'the capacity pool is closed'))
    const eligible = this.sources.filter((s) => s.serves(call.model, call.tenant, call.role))
    if (eligible.length === 0) {
      const models = [...new Set(this.sources.flatMap((s) => s.source.models))].sort()
      return Promise.reject(
        new ShiiooError(
          'INVALID_INPUT',
          `no capacity source serves model "${call.model}" to tenant ${call.tenant}${call.role ? ` role ${call.role}` : ''}; models: ${models.join(', ') || 'none'}`,
        ),
      )
    }
    const tokens = estimateTokens(call.chat)
    if (
      eligible.every((s) => s.availableAt(this.clock.now(), tokens) === Infinity && !s.source.limits?.maxConcurrent)
    ) {
      return Promise.reject(
        new ShiiooError(
          'INVALID_INPUT',
          `a call of about ${tokens} tokens is over every source's limits for "${call.model}"`,
        ),
      )
    }
    return new Promise<PoolResult>((resolve, reject) => {
      const now = this.clock.now()
      const waiter: Waiter = {
        call,
        tokens,
        priority: call.priority ?? 0,
        enqueuedAt: now,
        attempts: 0,
        failedOn: new Set(),
        lastError: null,
        resolve,
        reject,
        expire: () => undefined,
      }
      const cancelExpiry = this.clock.setTimer(now + (call.maxWaitMs ?? 600_000), () => {
        if (this.remove(waiter)) {
          const error =
            waiter.lastError ??
            new ShiiooError('UNAVAILABLE', `no capacity for "${call.model}" within ${call.maxWaitMs ?? 600_000} ms`, {
              retryable: true,
            })
          this.logger.warn('capacity call failed: no source took it in time', {
            model: call.model,
            attempts: waiter.attempts,
            ...causeOf(error),
          })
          reject(error)
        }
      })
      waiter.expire = cancelExpiry
      call.signal?.addEventListener(
        'abort',
        () => {
          if (this.remove(waiter)) reject(call.signal!.reason as Error)
        },
        { once: true },
      )
      this.waiting.push(waiter)
      this.dispatch()
    })
  }

  close(): void {
    this.closed = true
    this.wake?.cancel()
    for (const w of this.waiting.splice(0)) {
      w.expire()
      w.reject(new ShiiooError('UNAVAILABLE', 'the capacity pool is closing'))
    }
  }

  private remove(w: Waiter): boolean {
    const i = this.waiting.indexOf(w)
    if (i < 0) return false
    this.waiting.splice(i, 1)
    w.expire()
    return true
  }

  /** Admits every waiting call that fits somewhere now, fairest first; arms a timer for the rest. */
  private dispatch(): void {
    if (this.closed) return
    const now = this.clock.now()
    this.waiting.sort(
      (a, b) =>
        b.priority - a.priority ||
        this.use(a.call.tenant, now) - this.use(b.call.tenant, now) ||
        a.enqueuedAt - b.enqueuedAt,
    )
    let nextAt = Infinity
    for (let i = 0; i < this.waiting.length;) {
      const w = this.waiting[i]!
      const pick = this.choose(w, now)
      if (pick.source) {
        this.waiting.splice(i, 1)
        this.launch(w, pick.source, now)
        // the tenant just got served: later waiters of other tenants come first
        continue
      }
      nextAt = Math.min(nextAt, pick.at)
      i++
    }
    this.armWake(nextAt)
  }

  private choose(w: Waiter, now: number): { source: SourceState | null; at: number } {
    const candidates = this.sources.filter((s) => s.serves(w.call.model, w.call.tenant, w.call.role))
    const fresh = candidates.filter((s) => !w.failedOn.has(s.source.id))
    const pool = fresh.length > 0 && fresh.some((s) => s.availableAt(now, w.tokens) < Infinity) ? fresh : candidates
    let best: SourceState | null = null
    let at = Infinity
    for (const s of pool) {
      const free = s.availableAt(now, w.tokens)
      if (free <= now) {
        if (
          !best ||
          (s.source.priority ?? 0) > (best.source.priority ?? 0) ||
          ((s.source.priority ?? 0) === (best.source.priority ?? 0) && s.inFlight < best.inFlight)
        )
          best = s
      } else at = Math.min(at, free)
    }
    return { source: best, at }
  }

  private use(tenant: string, now: number): number {
    return this.tenantUse.get(tenant)?.used(now) ?? 0
  }

  private armWake(at: number): void {
    if (at === Infinity) return
    if (this.wake && this.wake.at <= at) return
    this.wake?.cancel()
    const cancel = this.clock.setTimer(at, () => {
      this.wake = null
      this.dispatch()
    })
    this.wake = { at, cancel }
  }

  private launch(w: Waiter, s: SourceState, now: number): void {
    w.attempts++
    const handles = s.reserve(now, w.tokens)
    let use = this.tenantUse.get(w.call.tenant)
    if (!use) this.tenantUse.set(w.call.tenant, (use = new SlidingWindow(60_000)))
    const useHandle = use.add(now, w.tokens)
    const started = now
    s.source.provider
      .chat({
        ...w.call.chat,
        // the output budget the reservation counted, so the vendor's accounting matches ours
        maxTokens: w.call.chat.maxTokens ?? DEFAULT_MAX_TOKENS,
        model: w.call.model,
        ...(w.call.signal ? { signal: w.call.signal } : {}),
      })
      .then(
        (response) => {
          const output =
            s.source.tokenAccounting === 'max_tokens'
              ? Math.max(response.usage.outputTokens, w.call.chat.maxTokens ?? DEFAULT_MAX_TOKENS)
              : response.usage.outputTokens
          const used = response.usage.inputTokens + output
          s.settle(handles, used)
          use.settle(useHandle, used)
          s.succeeded()
          const cost = costOf(s.source, response)
          this.record(w, s, started, response.usage.inputTokens, response.usage.outputTokens, cost, undefined)
          w.expire()
          w.resolve({ response, sourceId: s.source.id, cost, attempts: w.attempts, queuedMs: started - w.enqueuedAt })
        },
        (error: unknown) => this.failed(w, s, handles, use, useHandle, started, error),
      )
      .finally(() => this.dispatch())
  }

  private failed(
    w: Waiter,
    s: SourceState,
    handles: { tokens: number; day: number },
    use: SlidingWindow,
    useHandle: number,
    started: number,
    error: unknown,
  ): void {
    const now = this.clock.now()
    s.settle(handles, 0)
    use.settle(useHandle, 0)
    const e = isShiiooError(error)
      ? error
      : new ShiiooError('INTERNAL', error instanceof Error ? error.message : String(error))
    this.record(w, s, started, 0, 0, 0, e.code)
    if (w.call.signal?.aborted) {
      w.expire()
      w.reject(w.call.signal.reason as Error)
      return
    }
    if (e.code === 'RATE_LIMITED') {
      const retryAfter =
        typeof e.details.retryAfterMs === 'number' ? e.details.retryAfterMs : (this.options.defaultCooldownMs ?? 1000)
      s.coolUntil = Math.max(s.coolUntil, now + retryAfter)
    } else if (FAILOVER_CODES.has(e.code)) {
      s.failed(
        now,
        e.code === 'UNAUTHENTICATED' ? 1 : (this.options.breakerThreshold ?? 3),
        this.options.breakerOpenMs ?? 30_000,
      )
    }
    const maxAttempts = this.options.maxAttempts ?? 6
    if (!FAILOVER_CODES.has(e.code) || w.attempts >= maxAttempts) {
      this.logger.warn('capacity call failed', { source: s.source.id, attempts: w.attempts, ...causeOf(e) })
      w.expire()
      w.reject(e)
      return
    }
    // the cause as the provider reported it (keys redacted there): what an operator needs to act
    this.logger.warn('capacity source failed; failing over', {
      source: s.source.id,
      attempt: w.attempts,
      maxAttempts,
      ...causeOf(e),
    })
    w.failedOn.add(s.source.id)
    w.lastError = e
    this.waiting.push(w)
  }

  private record(
    w: Waiter,
    s: SourceState,
    started: number,
    input: number,
    output: number,
    cost: number,
    errorCode: string | undefined,
  ): void {
    this.options.onCall?.({
      at: started,
      tenant: w.call.tenant,
      role: w.call.role,
      model: w.call.model,
      sourceId: s.source.id,
      context: w.call.context,
      inputTokens: input,
      outputTokens: output,
      cost,
      ok: errorCode === undefined,
      errorCode,
      durationMs: this.clock.now() - started,
    })
  }
}

/** A provider failure for a log line: its code and message, and the vendor's status, error type and request id. */
function causeOf(e: ShiiooError): Record<string, unknown> {
  const d = e.details
  return {
    code: e.code,
    cause: e.message,
    ...(typeof d.status === 'number' ? { status: d.status } : {}),
    ...(typeof d.type === 'string' ? { type: d.type } : {}),
    ...(typeof d.requestId === 'string' ? { requestId: d.requestId } : {}),
    ...(typeof d.kind === 'string' ? { kind: d.kind } : {}),
    ...(typeof d.retryAfterMs === 'number' ? { retryAfterMs: d.retryAfterMs } : {}),
  }
}

export function costOf(source: CapacitySource, response: Pick<ChatResponse, 'usage'>): number {
  const p = source.prices
  if (!p) return 0
  return (response.usage.inputTokens * p.inputPer1M + response.usage.outputTokens * p.outputPer1M) / 1_000_000
}
