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
 * every append as it becomes durable. An append that skips ahead (events another process wrote,
 * such as a `shiioo decide`) makes the follower read the gap from the log first.
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
  let stopped = false
  let chain: Promise<void> = Promise.resolve()

  const deliver = async (batch: readonly StoredEvent[] | null): Promise<void> => {
    if (stopped) return
    let fresh = batch ? batch.filter((e) => e.seq > last) : null
    if (fresh?.length === 0) return
    if (fresh === null || fresh[0]!.seq !== last + 1)
      fresh = await log.read({ tenant, stream: runId, fromSeq: last + 1 })
    if (stopped || fresh.length === 0) return
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

  const unsubscribe = log.subscribe((events) => {
    const mine = events.filter((e) => e.stream === runId && e.tenant === tenant)
    if (mine.length > 0) enqueue(mine)
  })
  enqueue(null)
  return {
    flush: async () => {
      enqueue(null)
      let seen: Promise<void>
      do {
        seen = chain
        await seen
      } while (seen !== chain)
    },
    stop: () => {
      stopped = true
      unsubscribe()
    },
  }
}
