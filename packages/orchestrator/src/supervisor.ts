import type { Clock, Logger } from '@shiioo/core'
import { toShiiooError } from '@shiioo/core'
import type { CallerContext } from './caller.js'
import type { IndexFeed } from './index-feed.js'
import type { RunService } from './run/types.js'
import type { IndexCatchUpView } from './views/data.js'
import { toIndexCatchUpView } from './views/data.js'

export interface SupervisorOptions {
  /** How often to take over unfinished runs that no live process drives (e.g. a stopped `shiioo run`), in ms. */
  scanMs: number
}

/** The long-running duties of a serving process; `stop()` ends them. */
export interface Supervisor {
  /** What the catch-up at start folded into the index; null when the index is maintained elsewhere. */
  readonly caughtUp: IndexCatchUpView | null
  /** Stops scanning and waits for a scan in progress (runs already taken over stay driven until `close()`). */
  stop(): Promise<void>
}

export interface SupervisorDeps {
  feed: IndexFeed
  runs: RunService
  clock: Clock
  logger: Logger
}

/**
 * Catches the index up with the streams, then (in the background) takes over the caller's
 * unfinished runs that no live process drives, at once and every `scanMs`: runs left by a process
 * that stopped or died continue here. One scan at a time; the next is timed from the end of the last.
 */
export async function startSupervisor(
  deps: SupervisorDeps,
  caller: CallerContext,
  options: SupervisorOptions,
): Promise<Supervisor> {
  const { feed, runs, clock, logger } = deps
  const caught = await feed.catchUp()
  const caughtUp = caught ? toIndexCatchUpView(caught) : null
  if (caughtUp) {
    const { failed, ...counts } = caughtUp
    logger.info('index caught up with the event streams', counts)
    for (const f of failed) logger.warn('stream left out of the index (run `shiioo verify`)', { ...f })
  }

  let stopped = false
  let cancelTimer: (() => void) | null = null
  const scan = async (first: boolean): Promise<void> => {
    try {
      await feed.catchUp()
      const r = await runs.resumeAll(caller)
      const paused = r.resumed.filter((x) => x.status === 'paused').length
      const context = {
        running: r.resumed.length - paused,
        paused,
        elsewhere: r.elsewhere.length,
        failed: r.failed.length,
      }
      if (r.resumed.length + r.failed.length > 0) {
        logger.info('took over unfinished runs', { ...context, runIds: r.resumed.map((x) => x.runId) })
      } else if (!first) {
        logger.debug('scanned for unfinished runs', context)
      }
    } catch (error) {
      logger.error('could not take over unfinished runs', { error: toShiiooError(error).message })
    }
  }
  const schedule = () => {
    if (stopped) return
    cancelTimer = clock.setTimer(clock.now() + options.scanMs, () => {
      cancelTimer = null
      scanning = scan(false).then(schedule)
    })
  }
  // unfinished runs continue in the background while the caller goes on (e.g. the server answers)
  let scanning: Promise<void> = scan(true).then(schedule)

  let stopping: Promise<void> | null = null
  return {
    caughtUp,
    stop() {
      stopping ??= (async () => {
        stopped = true
        cancelTimer?.()
        cancelTimer = null
        // a scan may schedule the next one as it ends: wait until no scan is left
        let seen: Promise<void>
        do {
          seen = scanning
          await seen
        } while (seen !== scanning)
      })()
      return stopping
    },
  }
}
