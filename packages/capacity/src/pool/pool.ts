import type { CapacityLedger, Clock, LedgerReservation, Logger } from '@shiioo/core'
import { InProcessCapacityLedger, ShiiooError, isShiiooError, silentLogger, systemClock } from '@shiioo/core'
import type { ChatResponse, RateLimitInfo } from '../provider.js'
import { DEFAULT_MAX_TOKENS, estimateTokens } from './estimate.js'
import { SourceState } from './source-state.js'
import type { CallRecord, CapacitySource, PoolCall, PoolResult, SourceStatus } from './types.js'
import { SlidingWindow } from './window.js'

export interface PoolOptions {
  sources: readonly CapacitySource[]
  clock?: Clock
  logger?: Logger
  /**
   * Where the sources' rate windows are kept: this process's (default), or one every process on
   * the data dir (a cluster, later) shares, so that together they stay within each vendor's limits.
   */
  ledger?: CapacityLedger
  /**
   * How often waiting calls look at the ledger again when other processes also use it (their
   * settlements may free capacity sooner than the windows said). Default: never (the ledger is
   * this process's alone, and every change to it wakes the pool).
   */
  ledgerPollMs?: number
  /** Calls to providers per pool call before it fails with the last error (default 6). */
  maxAttempts?: number
  /** Cooldown after a 429 that gave no Retry-After (default 1 s). */
  defaultCooldownMs?: number
  /** Consecutive failures that open a source's breaker (default 3), and how long it stays open (default 30 s). */
  breakerThreshold?: number
  breakerOpenMs?: number
  /** How much later than its reservation a call may reach the vendor's window (default 1 s). */
  windowSlackMs?: number
  /** How long a call may wait for capacity when it does not say (default 10 minutes). */
  maxWaitMs?: number
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
  /** Told the caller it is waiting (onQueue), and not yet that it was admitted. */
  waitSignalled: boolean
  /** Resolved, rejected or removed: no longer the pool's to launch. */
  done: boolean
  resolve: (r: PoolResult) => void
  reject: (e: unknown) => void
  expire: () => void
}

const FAILOVER_CODES = new Set(['RATE_LIMITED', 'UNAVAILABLE'])

/**
 * The capacity pool: admits LLM calls to sources under their limits (kept in a CapacityLedger
 * that other processes may share), queues what does not fit (fairly between tenants, by
 * priority) instead of sending it into 429s, adapts each source's windows to what the vendor's
 * rate-limit headers say, fails over on 429, 5xx, timeouts and connection errors with cooldowns
 * and a breaker per source, takes a source whose key the vendor refuses out of service, and
 * settles every reservation as the vendor counts it. A call resolves or rejects with a typed
 * error; none is dropped.
 */
export class CapacityPool {
  private readonly sources: SourceState[]
  private readonly clock: Clock
  private readonly logger: Logger
  private readonly ledger: CapacityLedger
  private readonly slackMs: number
  private readonly waiting: Waiter[] = []
  private readonly tenantUse = new Map<string, SlidingWindow>()
  private wake: { at: number; cancel: () => void } | null = null
  private dispatching = false
  private redispatch = false
  private closed = false

  constructor(private readonly options: PoolOptions) {
    const ids = new Set<string>()
    for (const s of options.sources) {
      if (ids.has(s.id)) throw new ShiiooError('INVALID_INPUT', `two capacity sources are named "${s.id}"`)
      ids.add(s.id)
    }
    this.sources = options.sources.map((s) => new SourceState(s))
    this.clock = options.clock ?? systemClock
    this.logger = options.logger ?? silentLogger
    this.ledger = options.ledger ?? new InProcessCapacityLedger()
    this.slackMs = options.windowSlackMs ?? 1000
  }

  /** Calls at providers right now. */
  get inFlight(): number {
    return this.sources.reduce((n, s) => n + s.inFlight, 0)
  }

  /** Calls waiting for capacity right now. */
  get queued(): number {
    return this.waiting.length
  }

  /** Each source's state in this process: in service, cooling, breaker open, or out of service and why. */
  status(): SourceStatus[] {
    const now = this.clock.now()
    return this.sources.map((s): SourceStatus => {
      const base = { id: s.id, inFlight: s.inFlight }
      if (s.outOfService)
        return { ...base, state: 'out_of_service', until: Infinity, reason: s.outOfService.error.message }
      if (s.openUntil > now || s.probing) return { ...base, state: 'breaker_open', until: s.openUntil }
      if (s.coolUntil > now) return { ...base, state: 'cooling', until: s.coolUntil }
      return { ...base, state: 'ok' }
    })
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
    const refused = this.noneInService(eligible, call.model)
    if (refused) return Promise.reject(refused)
    const tokens = estimateTokens(call.chat)
    if (eligible.every((s) => s.tooLarge(tokens))) {
      return Promise.reject(
        new ShiiooError(
          'INVALID_INPUT',
          `a call of about ${tokens} tokens is over every source's limits for "${call.model}"`,
        ),
      )
    }
    return new Promise<PoolResult>((resolve, reject) => {
      const now = this.clock.now()
      const maxWaitMs = call.maxWaitMs ?? this.options.maxWaitMs ?? 600_000
      const waiter: Waiter = {
        call,
        tokens,
        priority: call.priority ?? 0,
        enqueuedAt: now,
        attempts: 0,
        failedOn: new Set(),
        lastError: null,
        waitSignalled: false,
        done: false,
        resolve,
        reject,
        expire: () => undefined,
      }
      const cancelExpiry = this.clock.setTimer(now + maxWaitMs, () => {
        if (this.remove(waiter)) {
          const error =
            waiter.lastError ??
            new ShiiooError('UNAVAILABLE', `no capacity for "${call.model}" within ${maxWaitMs} ms`, {
              retryable: true,
              details: { kind: 'capacity_wait' },
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
      w.done = true
      w.expire()
      w.reject(new ShiiooError('UNAVAILABLE', 'the capacity pool is closing'))
    }
  }

  private remove(w: Waiter): boolean {
    if (w.done) return false
    w.done = true
    const i = this.waiting.indexOf(w)
    if (i >= 0) this.waiting.splice(i, 1)
    w.expire()
    return true
  }

  /** UNAUTHENTICATED naming the sources when every one configured for the call is out of service. */
  private noneInService(eligible: readonly SourceState[], model: string): ShiiooError | null {
    if (!eligible.every((s) => s.outOfService)) return null
    const why = eligible.map((s) => `${s.id} (${s.outOfService!.error.message})`).join('; ')
    return new ShiiooError(
      'UNAUTHENTICATED',
      `no capacity source for "${model}" is in service: the vendor refused the key of ${why}`,
      { details: { sources: eligible.map((s) => s.id), ...eligible[0]!.outOfService!.error.details } },
    )
  }

  /** Runs dispatch passes one at a time: a pass awaits the ledger, and what happens meanwhile asks for another. */
  private dispatch(): void {
    if (this.closed) return
    if (this.dispatching) {
      this.redispatch = true
      return
    }
    this.dispatching = true
    void (async () => {
      try {
        do {
          this.redispatch = false
          await this.dispatchOnce()
        } while (this.redispatch && !this.closed)
      } catch (err) {
        this.logger.error('capacity dispatch failed', { error: err instanceof Error ? err.message : String(err) })
      } finally {
        this.dispatching = false
      }
    })()
  }

  /** Admits every waiting call that fits somewhere now, fairest first; arms a timer for the rest. */
  private async dispatchOnce(): Promise<void> {
    const now = this.clock.now()
    this.waiting.sort(
      (a, b) =>
        b.priority - a.priority ||
        this.use(a.call.tenant, now) - this.use(b.call.tenant, now) ||
        a.enqueuedAt - b.enqueuedAt,
    )
    // what the ledger refused in this pass: no need to ask again for the next waiter
    const refusedUntil = new Map<SourceState, number>()
    let nextAt = Infinity
    for (const w of [...this.waiting]) {
      if (this.closed) return
      if (w.done) continue
      let launched = false
      for (const s of this.candidates(w)) {
        const t = this.clock.now()
        const local = s.availableAt(t)
        const refused = refusedUntil.get(s)
        if (local > t) {
          nextAt = Math.min(nextAt, local)
          continue
        }
        if (refused !== undefined) {
          nextAt = Math.min(nextAt, refused)
          continue
        }
        let r
        try {
          r = await this.ledger.reserve({
            source: s.id,
            now: t,
            tokens: w.tokens,
            limits: s.source.limits ?? {},
            slackMs: this.slackMs,
          })
        } catch (err) {
          if (this.remove(w)) w.reject(err)
          launched = true
          break
        }
        if (!r.ok) {
          refusedUntil.set(s, r.at)
          nextAt = Math.min(nextAt, r.at)
          continue
        }
        if (w.done || this.closed || s.availableAt(this.clock.now()) > this.clock.now()) {
          // gone, or the source changed while the ledger answered: give the reservation back
          await this.ledger.settle({ source: s.id, reservation: r.reservation, tokens: 0 })
          if (!w.done) nextAt = Math.min(nextAt, this.clock.now())
          break
        }
        const i = this.waiting.indexOf(w)
        if (i >= 0) this.waiting.splice(i, 1)
        this.launch(w, s, r.reservation)
        launched = true
        break
      }
      if (!launched && !w.done && !w.waitSignalled) {
        w.waitSignalled = true
        w.call.onQueue?.('waiting')
      }
    }
    if (this.waiting.length > 0 && this.options.ledgerPollMs !== undefined)
      nextAt = Math.min(nextAt, now + this.options.ledgerPollMs)
    this.armWake(nextAt)
  }

  /** The sources to try for a call, best first: in service, not yet failed by it when another can serve it. */
  private candidates(w: Waiter): SourceState[] {
    const serving = this.sources.filter((s) => !s.outOfService && s.serves(w.call.model, w.call.tenant, w.call.role))
    const fresh = serving.filter((s) => !w.failedOn.has(s.id))
    const pool = fresh.length > 0 ? fresh : serving
    return pool.sort((a, b) => (b.source.priority ?? 0) - (a.source.priority ?? 0) || a.inFlight - b.inFlight)
  }

  private use(tenant: string, now: number): number {
    return this.tenantUse.get(tenant)?.used(now) ?? 0
  }

  private armWake(at: number): void {
    if (at === Infinity || this.closed) return
    if (this.wake && this.wake.at <= at) return
    this.wake?.cancel()
    const cancel = this.clock.setTimer(at, () => {
      this.wake = null
      this.dispatch()
    })
    this.wake = { at, cancel }
  }

  private launch(w: Waiter, s: SourceState, reservation: LedgerReservation): void {
    const now = this.clock.now()
    w.attempts++
    s.started(now)
    let use = this.tenantUse.get(w.call.tenant)
    if (!use) this.tenantUse.set(w.call.tenant, (use = new SlidingWindow(60_000)))
    const useHandle = use.add(now, w.tokens)
    if (w.waitSignalled) {
      w.waitSignalled = false
      w.call.onQueue?.('admitted')
    }
    const maxTokens = w.call.chat.maxTokens ?? DEFAULT_MAX_TOKENS
    const onText = w.call.onText
    const from = { source: s.id, attempt: w.attempts }
    s.source.provider
      .chat({
        ...w.call.chat,
        // the output budget the reservation counted, so the vendor's accounting matches ours
        maxTokens,
        model: w.call.model,
        ...(w.call.signal ? { signal: w.call.signal } : {}),
        ...(onText ? { stream: true, onText: (delta: string) => onText(delta, from) } : {}),
      })
      .then(
        async (response) => {
          s.inFlight--
          const accounting = s.source.tokenAccounting ?? s.source.provider.tokenAccounting ?? 'actual'
          const output =
            accounting === 'max_tokens' ? Math.max(response.usage.outputTokens, maxTokens) : response.usage.outputTokens
          const used = response.usage.inputTokens + output
          use.settle(useHandle, used)
          s.succeeded()
          await this.settle(s, reservation, used, response.rateLimits)
          const cost = costOf(s.source, response)
          this.record(w, s, now, response.usage.inputTokens, response.usage.outputTokens, cost, undefined)
          w.done = true
          w.expire()
          w.resolve({ response, sourceId: s.id, cost, attempts: w.attempts, queuedMs: now - w.enqueuedAt })
        },
        (error: unknown) => {
          s.inFlight--
          use.settle(useHandle, 0)
          return this.failed(w, s, reservation, now, error)
        },
      )
      .catch((err: unknown) => {
        // the ledger failed while settling: the call's own outcome stands
        this.logger.error('capacity ledger failed', {
          source: s.id,
          error: err instanceof Error ? err.message : String(err),
        })
        if (!w.done) {
          w.done = true
          w.expire()
          w.reject(err)
        }
      })
      .finally(() => this.dispatch())
  }

  /** Settles a reservation as the vendor counts it, and adopts what its headers said. */
  private async settle(
    s: SourceState,
    reservation: LedgerReservation,
    tokens: number | null,
    rateLimits: RateLimitInfo | undefined,
    coolUntil?: number,
  ): Promise<void> {
    if (tokens !== null) await this.ledger.settle({ source: s.id, reservation, tokens })
    if (rateLimits === undefined && coolUntil === undefined) return
    const now = this.clock.now()
    const window = (w: RateLimitInfo['requests']) =>
      w && { limit: w.limit, remaining: w.remaining, resetAt: now + w.resetMs }
    const requests = window(rateLimits?.requests)
    const tokenWindow = window(rateLimits?.tokens)
    await this.ledger.observe({
      source: s.id,
      now,
      slackMs: this.slackMs,
      ...(requests ? { requests } : {}),
      ...(tokenWindow ? { tokens: tokenWindow } : {}),
      ...(coolUntil === undefined ? {} : { coolUntil }),
    })
  }

  private async failed(
    w: Waiter,
    s: SourceState,
    reservation: LedgerReservation,
    started: number,
    error: unknown,
  ): Promise<void> {
    const now = this.clock.now()
    const e = isShiiooError(error)
      ? error
      : new ShiiooError('INTERNAL', error instanceof Error ? error.message : String(error))
    const rateLimits = e.details.rateLimits as RateLimitInfo | undefined
    // A refused call (429, bad key, bad request) was not counted by the vendor; one that failed
    // on its way (5xx, timeout, dropped) may have been, so its reservation stands.
    const counted = !['RATE_LIMITED', 'UNAUTHENTICATED', 'INVALID_INPUT'].includes(e.code)
    let coolUntil: number | undefined
    if (e.code === 'RATE_LIMITED') {
      const retryAfter =
        typeof e.details.retryAfterMs === 'number' ? e.details.retryAfterMs : (this.options.defaultCooldownMs ?? 1000)
      coolUntil = now + retryAfter
      s.coolUntil = Math.max(s.coolUntil, coolUntil)
    } else if (e.code === 'UNAVAILABLE' && e.details.kind !== 'aborted') {
      s.failed(now, this.options.breakerThreshold ?? 3, this.options.breakerOpenMs ?? 30_000)
    }
    await this.settle(s, reservation, counted ? null : 0, rateLimits, coolUntil)
    this.record(w, s, started, 0, 0, 0, e.code)
    if (w.call.signal?.aborted) {
      w.done = true
      w.expire()
      w.reject(w.call.signal.reason as Error)
      return
    }
    if (e.code === 'UNAUTHENTICATED') {
      this.takeOutOfService(s, e, now)
      const refused = this.noneInService(
        this.sources.filter((x) => x.serves(w.call.model, w.call.tenant, w.call.role)),
        w.call.model,
      )
      if (refused) {
        this.logger.error('capacity call failed: no source in service', { model: w.call.model, ...causeOf(refused) })
        w.done = true
        w.expire()
        w.reject(refused)
        return
      }
    }
    const maxAttempts = this.options.maxAttempts ?? 6
    if ((!FAILOVER_CODES.has(e.code) && e.code !== 'UNAUTHENTICATED') || w.attempts >= maxAttempts) {
      this.logger.warn('capacity call failed', { source: s.id, attempts: w.attempts, ...causeOf(e) })
      w.done = true
      w.expire()
      w.reject(e)
      return
    }
    w.failedOn.add(s.id)
    w.lastError = e
    // the cause as the provider reported it (keys redacted there): what an operator needs to act
    const others = this.candidates(w).filter((x) => !w.failedOn.has(x.id))
    if (others.length > 0)
      this.logger.warn('capacity source failed; failing over', {
        source: s.id,
        to: others.map((x) => x.id),
        attempt: w.attempts,
        maxAttempts,
        ...causeOf(e),
      })
    else {
      // the one source left is the failed one: say so, and when it is tried again
      const at = s.availableAt(now)
      this.logger.warn('capacity source failed; no other source serves the call, trying it again', {
        source: s.id,
        attempt: w.attempts,
        maxAttempts,
        ...(at > now && at < Infinity ? { retryInMs: at - now } : {}),
        ...causeOf(e),
      })
    }
    this.waiting.push(w)
  }

  /** The vendor refused the source's key: no call goes to it again in this process, and every call only it serves fails now. */
  private takeOutOfService(s: SourceState, e: ShiiooError, now: number): void {
    if (s.outOfService) return
    s.outOfService = { since: now, error: e }
    this.logger.error('capacity source out of service: the vendor refused its key', {
      source: s.id,
      ...causeOf(e),
    })
    for (const w of [...this.waiting]) {
      const refused = this.noneInService(
        this.sources.filter((x) => x.serves(w.call.model, w.call.tenant, w.call.role)),
        w.call.model,
      )
      if (refused && this.remove(w)) w.reject(refused)
    }
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
      sourceId: s.id,
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
