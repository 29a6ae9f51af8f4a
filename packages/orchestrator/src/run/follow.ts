import type { EventLog, Logger, RunId, StoredEvent, TenantId } from '@shiioo/core'
import { toShiiooError } from '@shiioo/core'

export type RunEventListener = (events: readonly StoredEvent[]) => void

export interface FollowOptions {
  /** The first seq to deliver (default 1: the whole history, then what follows). */
  fromSeq?: number
}

export interface RunFollower {
  /** Reads what the log holds beyond what was delivered; resolves once all of it has been delivered. */
  flush(): Promise<void>
  stop(): void
}

/**
 * Delivers a run's events to `listener` in seq order, each once: those already in the log, then
 * every one the event feed shows, whichever process appended it (a `shiioo decide` from another
 * terminal arrives as soon as it is durable). The feed subscription starts before the history is
 * read, so nothing falls between the two; what both hold is delivered once.
 */
export function followRun(
  log: EventLog,
  logger: Logger,
  target: { tenant: TenantId; runId: RunId },
  listener: RunEventListener,
  options: FollowOptions = {},
): RunFollower {
  const { tenant, runId } = target
  let last = Math.max(0, (options.fromSeq ?? 1) - 1)
  const stop = new AbortController()
  let chain: Promise<void> = Promise.resolve()

  /** The log's events from `last + 1` up to `before` (exclusive; all when null). */
  const readFrom = (before: number | null) =>
    log.read({ tenant, stream: runId, fromSeq: last + 1, ...(before === null ? {} : { toSeq: before - 1 }) })

  const deliver = async (batch: readonly StoredEvent[] | null): Promise<void> => {
    if (stop.signal.aborted) return
    let fresh = batch ? batch.filter((e) => e.seq > last) : await readFrom(null)
    if (fresh.length === 0) return
    for (let attempt = 0; fresh.length > 0 && fresh[0]!.seq !== last + 1; attempt++) {
      // events before the feed's first: committed before the subscription began and not yet in the
      // file when the history was read (another process writes its stream file a little later)
      const gap = await readFrom(attempt < 12 ? fresh[0]!.seq : null)
      if (attempt >= 12)
        fresh = gap // its writer died before writing them: what the log holds, in order
      else if (gap.length > 0 && gap[0]!.seq === last + 1 && gap.at(-1)!.seq === fresh[0]!.seq - 1)
        fresh = [...gap, ...fresh]
      else await new Promise((r) => setTimeout(r, Math.min(100, 2 ** attempt)))
      if (stop.signal.aborted) return
    }
    if (fresh.length === 0) return
    last = fresh.at(-1)!.seq
    listener(fresh)
  }
  const enqueue = (batch: readonly StoredEvent[] | null) => {
    chain = chain
      .then(() => deliver(batch))
      .catch((error: unknown) =>
        logger.warn('could not deliver run events', { runId, error: toShiiooError(error).message }),
      )
  }

  // fixed now, before the history is read
  const feed = log.feed.subscribe({ tenant, streams: [runId], after: 'now' }, stop.signal)
  enqueue(null)
  void (async () => {
    for await (const batch of feed) enqueue(batch.map((e) => e.event))
  })().catch((error: unknown) => {
    if (!stop.signal.aborted) logger.warn('stopped following a run', { runId, error: toShiiooError(error).message })
  })
  return {
    flush: async () => {
      enqueue(null)
      let seen: Promise<void>
      do {
        seen = chain
        await seen
      } while (seen !== chain)
    },
    stop: () => stop.abort(),
  }
}
