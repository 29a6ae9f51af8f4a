import { setTimeout as sleep } from 'node:timers/promises'
import type {
  EventLog,
  FeedStart,
  IdentityState,
  Logger,
  NewEvent,
  StoredEvent,
  StreamId,
  TenantId,
} from '@shiioo/core'
import { IDENTITY_STREAM, applyIdentityEvent, emptyIdentityState, isShiiooError, toShiiooError } from '@shiioo/core'

const stream = IDENTITY_STREAM as StreamId
/** How often an append that lost the race to another process re-reads the stream and tries again. */
const MAX_CONFLICTS = 20

export interface IdentityDirectoryDeps {
  log: EventLog
  logger: Logger
}

/**
 * Every tenant's principals and tokens in memory: the fold of each tenant's `identity` stream,
 * loaded on first use and kept current through the live feed, so that a token is checked with a
 * map lookup (the API's every request does it) and a change made by another process (`shiioo
 * token revoke`) reaches this one within the feed's latency. This process's own appends are
 * folded in as soon as they are durable. The streams stay the truth: nothing here is written
 * that is not in them.
 */
export class IdentityDirectory {
  private readonly log: EventLog
  private readonly logger: Logger
  private readonly tenants = new Map<TenantId, IdentityState>()
  /** Token hash → where the token is. */
  private readonly hashes = new Map<string, { tenant: TenantId; tokenId: string }>()
  private readonly queues = new Map<TenantId, Promise<unknown>>()
  private readonly stop = new AbortController()
  private opening: Promise<void> | null = null
  private following: Promise<void> | null = null

  constructor(deps: IdentityDirectoryDeps) {
    this.log = deps.log
    this.logger = deps.logger
  }

  /** Loads every tenant's stream and starts following the feed (once); resolves when loaded. */
  open(): Promise<void> {
    if (this.opening === null) {
      let loaded!: () => void
      let failed!: (err: unknown) => void
      this.opening = new Promise<void>((resolve, reject) => {
        loaded = resolve
        failed = reject
      })
      this.following = this.follow(loaded, failed)
    }
    return this.opening
  }

  /** The tenant's state (empty when it has none yet); call after `open`. Do not change it. */
  state(tenant: TenantId): IdentityState {
    return this.tenants.get(tenant) ?? emptyIdentityState()
  }

  /** Where a token hash is registered, if anywhere. */
  findHash(hash: string): { tenant: TenantId; state: IdentityState; tokenId: string } | null {
    const at = this.hashes.get(hash)
    return at ? { tenant: at.tenant, tokenId: at.tokenId, state: this.state(at.tenant) } : null
  }

  /**
   * Appends what `build` makes of the tenant's current state, at its version, and folds it in.
   * Appends of this process are serialized per tenant; one that loses a race with another process
   * reads what that one wrote and builds again (so a name stays unique). `build` throws to refuse.
   */
  change<T>(tenant: TenantId, build: (state: IdentityState) => { events: NewEvent[]; result: T }): Promise<T> {
    const previous = this.queues.get(tenant) ?? Promise.resolve()
    const next = previous.catch(() => undefined).then(() => this.append(tenant, build))
    this.queues.set(tenant, next)
    return next
  }

  /** Stops following the feed. */
  async close(): Promise<void> {
    this.stop.abort()
    await this.following
    await Promise.all([...this.queues.values()].map((q) => q.catch(() => undefined)))
  }

  private async append<T>(tenant: TenantId, build: (state: IdentityState) => { events: NewEvent[]; result: T }) {
    await this.open()
    for (let attempt = 1; ; attempt++) {
      const state = this.state(tenant)
      const { events, result } = build(state)
      if (events.length === 0) return result
      try {
        await this.log.append({ tenant, stream, expectedVersion: state.version, events })
        await this.catchUp(tenant)
        return result
      } catch (err) {
        if (toShiiooError(err).code !== 'CONFLICT' || attempt >= MAX_CONFLICTS) throw err
        await this.catchUp(tenant)
      }
    }
  }

  /** Reads what the tenant's stream holds past what is folded in. */
  private async catchUp(tenant: TenantId): Promise<void> {
    const version = this.tenants.get(tenant)?.version ?? 0
    const events = await this.log.read({ tenant, stream, fromSeq: version + 1 })
    for (const e of events) this.apply(e)
  }

  private apply(e: StoredEvent): void {
    let state = this.tenants.get(e.tenant)
    if (state === undefined) {
      state = emptyIdentityState()
      this.tenants.set(e.tenant, state)
    }
    if (e.seq !== state.version + 1) return
    applyIdentityEvent(state, e)
    if (e.type === 'token.created') this.hashes.set(e.data.hash, { tenant: e.tenant, tokenId: e.data.tokenId })
  }

  private async loadAll(): Promise<void> {
    for await (const s of this.log.listStreams({ kind: 'control', signal: this.stop.signal })) {
      if (s.stream === stream) await this.catchUp(s.tenant)
    }
  }

  /** Loads the streams from the feed's head on, then folds in what the feed brings, until closed. */
  private async follow(loaded: () => void, failed: (err: unknown) => void): Promise<void> {
    const { feed } = this.log
    const signal = this.stop.signal
    let start: FeedStart | null = null
    let first = true
    while (!signal.aborted) {
      try {
        if (start === null) {
          const head = await feed.head()
          await this.loadAll()
          start = head
          if (first) loaded()
          first = false
        }
        for await (const batch of feed.subscribe({ streams: [stream], kinds: ['control'], after: start }, signal)) {
          for (const { position, event } of batch) {
            const version = this.tenants.get(event.tenant)?.version ?? 0
            // an event past the next one: something was missed, read the stream itself
            if (event.seq > version + 1) await this.catchUp(event.tenant)
            else this.apply(event)
            start = position
          }
        }
      } catch (err) {
        if (signal.aborted) break
        if (first) {
          this.opening = null
          failed(err)
          return
        }
        const error = toShiiooError(err)
        if (isShiiooError(err) && err.code === 'GONE') {
          this.logger.warn('the identity position is not in the feed any more; reading the streams', {
            error: error.message,
          })
          start = null
          continue
        }
        this.logger.error('following identity changes failed; trying again', { error: error.message })
        await sleep(1000, undefined, { signal }).catch(() => undefined)
      }
    }
    if (first) {
      this.opening = null
      failed(new Error('the identity directory was closed before it loaded'))
    }
  }
}
