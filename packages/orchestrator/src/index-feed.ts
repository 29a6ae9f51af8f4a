import type { Following, ProjectResult, Projector } from '@shiioo/core'

/**
 * Keeps the index current for this process: the projector follows the event feed, so appends of
 * every process reach the index, continuing from the feed position the index saved (or, when the
 * feed no longer holds it, from a scan of the streams). The first query (or `catchUp()`) waits
 * until the index holds what the feed held when it started following. Without a projector the
 * index is someone else's to maintain and is queried as it is.
 */
export class IndexFeed {
  private readonly stop = new AbortController()
  private following: Following | null = null

  constructor(private readonly projector: Projector | undefined) {}

  /**
   * Starts following on first use (a query, or the supervisor at a server's start), so commands
   * that never touch the index (`events`, `verify`, `index rebuild`) never open it. Resolves once
   * the index has caught up with the feed as it was then (null without a projector).
   */
  catchUp(): Promise<ProjectResult | null> {
    if (!this.projector || this.stop.signal.aborted) return Promise.resolve(null)
    this.following ??= this.projector.follow(this.stop.signal)
    return this.following.caughtUp
  }

  /** Resolves when the index holds every event the feed holds now. */
  async current(): Promise<void> {
    await this.catchUp()
    await this.projector?.idle()
  }

  async close(): Promise<void> {
    this.stop.abort()
    await this.following?.done
    await this.projector?.idle()
  }
}
