import type { EventFeed, EventLog, Logger, StreamId, TenantId } from '@shiioo/core'
import { toShiiooError } from '@shiioo/core'

/** Streams whose last commit the watch remembers (see `recent`). */
const RECENT = 10_000

/** `lastSeq`: how far the stream is known to reach; null: it may have moved, look. */
export type OnAdvance = (lastSeq: number | null) => void

interface Watcher {
  /** What the watcher has of the stream: commits up to it are not news. */
  version: () => number
  onAdvance: OnAdvance
}

/**
 * Tells runs that their stream moved: another process appended to it (a `shiioo decide`, a
 * cancel, a signal). One subscription to the log's feed for the whole engine, commits only (no
 * event bodies), dispatched by stream: a waiting run costs an entry in a map, not a poll.
 *
 * The subscription starts at the first watch, from `'now'`; a watcher registered later looks
 * once for what it may have missed between its read of the stream and its registration
 * (`watch(..., { check: true })`): in what the feed has shown recently, since another process's
 * commit reaches the feed a few milliseconds before its stream file (write-behind, ADR 0007), and
 * in the log.
 */
export class StreamWatch {
  private readonly watchers = new Map<string, Set<Watcher>>()
  /** The last seq of recently committed streams (the last RECENT of them), as the feed showed them. */
  private readonly recent = new Map<string, number>()
  private stop: AbortController | null = null
  private closed = false

  constructor(
    private readonly log: EventLog,
    private readonly logger: Logger,
  ) {}

  /**
   * Calls `onAdvance` with a commit's last seq whenever one lands past `version()`. `check`: the
   * caller read the stream before watching; look once for what arrived in between. Returns the
   * function that stops watching.
   */
  watch(
    tenant: TenantId,
    stream: StreamId,
    version: () => number,
    onAdvance: OnAdvance,
    options: { check?: boolean } = {},
  ): () => void {
    this.start()
    const key = `${tenant}/${stream}`
    const w: Watcher = { version, onAdvance }
    let set = this.watchers.get(key)
    if (!set) this.watchers.set(key, (set = new Set()))
    set.add(w)
    if (options.check) {
      const seen = this.recent.get(key) ?? 0
      queueMicrotask(() => {
        if (seen > w.version() && set.has(w)) w.onAdvance(seen) // after the caller has its unwatch function
      })
      this.log.version({ tenant, stream }).then(
        (v) => {
          if (v > w.version() && set.has(w)) w.onAdvance(v)
        },
        (error: unknown) => this.logger.warn('could not check a watched stream', { stream, error: String(error) }),
      )
    }
    return () => {
      set.delete(w)
      if (set.size === 0 && this.watchers.get(key) === set) this.watchers.delete(key)
    }
  }

  /**
   * Resolves once the stream holds events past `version`, or after `timeoutMs` (the caller looks
   * again then, e.g. whether the process driving the run still holds it).
   */
  advanced(tenant: TenantId, stream: StreamId, version: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs)
      const unwatch = this.watch(tenant, stream, () => version, done, { check: true })
      function done() {
        clearTimeout(timer)
        unwatch()
        resolve()
      }
    })
  }

  close(): void {
    this.closed = true
    this.stop?.abort()
    this.stop = null
    this.watchers.clear()
  }

  private start(): void {
    if (this.stop || this.closed) return
    const stop = new AbortController()
    this.stop = stop
    // 'now' is fixed here, synchronously: every commit from this call on is seen
    const commits = this.log.feed.commits({ after: 'now' }, stop.signal)
    void this.follow(commits, stop)
  }

  private async follow(commits: ReturnType<EventFeed['commits']>, stop: AbortController): Promise<void> {
    try {
      for await (const batch of commits) {
        for (const c of batch) {
          const key = `${c.tenant}/${c.stream}`
          this.recent.delete(key) // re-inserted last: the map's order is the eviction order
          this.recent.set(key, c.lastSeq)
          if (this.recent.size > RECENT) this.recent.delete(this.recent.keys().next().value!)
          const set = this.watchers.get(key)
          if (!set) continue
          for (const w of [...set]) if (c.lastSeq > w.version()) w.onAdvance(c.lastSeq)
        }
      }
    } catch (error) {
      if (stop.signal.aborted) return
      // the feed failed (or this engine fell behind its retention): start again from now, and
      // let every watcher read its stream, since commits may have been missed meanwhile
      this.logger.error('stream watch stopped; starting again', { error: toShiiooError(error).message })
      if (this.stop === stop) this.stop = null
      if (this.closed) return
      try {
        this.start()
      } catch (again) {
        this.logger.error('stream watch cannot start again', { error: toShiiooError(again).message })
        return
      }
      for (const set of this.watchers.values()) for (const w of [...set]) w.onAdvance(null)
    }
  }
}
