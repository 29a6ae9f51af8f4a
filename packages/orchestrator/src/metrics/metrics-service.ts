import type { EventLog, IndexStore, RunStatus, StoredEvent } from '@shiioo/core'
import { RUN_STATUSES, toShiiooError } from '@shiioo/core'
import type { Door } from '../audit/door.js'
import type { CallerContext } from '../caller.js'
import type { CapacityService } from '../capacity-read/capacity-service.js'
import type { IndexFeed } from '../index-feed.js'
import type { MetricsObservationView, MetricsSnapshotView } from '../views/metrics.js'

/** A listener of what the live feed shows happening, for counters and histograms. */
export type MetricsListener = (observation: MetricsObservationView) => void

/** The numbers a metrics endpoint exports: current totals, and what happens from now on. */
export interface MetricsService {
  /**
   * The caller's tenant now: runs by status (counted in the index), model calls, tokens and cost
   * by model (the cost ledger) and the capacity pool (queue depth, each source's saturation).
   */
  snapshot(caller: CallerContext): Promise<MetricsSnapshotView>
  /**
   * Follows the caller's tenant's events on the live feed from now until `signal` aborts: each
   * step attempt that ends (with its latency, from its `step.started`) and each run that ends.
   * Resolves when aborted; rejects if the feed fails.
   */
  observe(caller: CallerContext, listener: MetricsListener, options: { signal: AbortSignal }): Promise<void>
}

export interface MetricsServiceDeps {
  log: EventLog
  index: IndexStore
  feed: IndexFeed
  door: Door
  capacity: CapacityService
}

const COUNT_PAGE = 500
/** Attempts whose start was seen and whose end was not yet: bounded, so steps that never end (a crash) cannot grow it. */
const MAX_OPEN_ATTEMPTS = 100_000

const ENDED: Partial<Record<StoredEvent['type'], RunStatus>> = {
  'run.completed': 'completed',
  'run.failed': 'failed',
  'run.cancelled': 'cancelled',
}

export function createMetricsService(deps: MetricsServiceDeps): MetricsService {
  const { log, index, feed, door, capacity } = deps

  /** Counted page by page (the index port has no count); the pages are small and indexed by status. */
  const countRuns = async (caller: CallerContext): Promise<Record<RunStatus, number>> => {
    const counts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>
    for (const status of RUN_STATUSES) {
      let cursor: string | undefined
      do {
        const page = await index.listRuns({
          tenant: caller.tenant,
          status,
          limit: COUNT_PAGE,
          ...(cursor === undefined ? {} : { cursor }),
        })
        counts[status] += page.items.length
        cursor = page.nextCursor ?? undefined
      } while (cursor !== undefined)
    }
    return counts
  }

  return {
    async snapshot(caller) {
      door.admit(caller, 'metrics.read', { kind: 'tenant' })
      await feed.current()
      const [runs, llm, pool] = await Promise.all([
        countRuns(caller),
        index.costs({ tenant: caller.tenant, by: 'model' }),
        capacity.pool(caller),
      ])
      return { tenant: caller.tenant, runs, llm, pool }
    },

    async observe(caller, listener, { signal }) {
      door.admit(caller, 'metrics.read', { kind: 'tenant' })
      const started = new Map<string, number>()
      const types = [
        'step.started',
        'step.completed',
        'step.failed',
        'run.completed',
        'run.failed',
        'run.cancelled',
      ] as const
      const batches = log.feed.subscribe(
        { tenant: caller.tenant, kinds: ['run'], types: [...types], after: 'now' },
        signal,
      )
      try {
        for await (const batch of batches) {
          for (const { event: e } of batch) {
            const ended = ENDED[e.type]
            if (ended !== undefined) {
              listener({ kind: 'run-ended', status: ended })
              continue
            }
            if (e.type !== 'step.started' && e.type !== 'step.completed' && e.type !== 'step.failed') continue
            const key = `${e.stream}/${e.data.stepId}/${e.data.item ?? ''}/${e.data.attempt}`
            if (e.type === 'step.started') {
              if (started.size >= MAX_OPEN_ATTEMPTS) started.delete(started.keys().next().value!)
              started.set(key, Date.parse(e.at))
              continue
            }
            const from = started.get(key)
            started.delete(key)
            // an attempt whose start came before this process subscribed has no latency to report
            if (from === undefined) continue
            listener({
              kind: 'step-ended',
              status: e.type === 'step.completed' ? 'completed' : 'failed',
              seconds: Math.max(0, Date.parse(e.at) - from) / 1000,
            })
          }
        }
      } catch (error) {
        if (signal.aborted) return
        throw toShiiooError(error)
      }
    },
  }
}
