import type { ProjectResult, Projector } from '@shiioo/core'

/**
 * Keeps the index current for this process: the projector follows every append from the start,
 * and the first query (or `catchUp()`) first folds in what other processes wrote meanwhile.
 * Without a projector the index is someone else's to maintain and is queried as it is.
 */
export class IndexFeed {
  private caughtUp: Promise<ProjectResult | null> | null = null
  private readonly detach: (() => void) | null

  constructor(private readonly projector: Projector | undefined) {
    this.detach = projector?.attach() ?? null
  }

  /** Brings the index up to date with the streams, once per process (null without a projector). */
  catchUp(): Promise<ProjectResult | null> {
    if (!this.projector) return Promise.resolve(null)
    this.caughtUp ??= this.projector.catchUp().catch((error: unknown) => {
      this.caughtUp = null
      throw error
    })
    return this.caughtUp
  }

  /** Resolves when the index holds every append seen so far. */
  async current(): Promise<void> {
    await this.catchUp()
    await this.projector?.idle()
  }

  async close(): Promise<void> {
    this.detach?.()
    await this.projector?.idle()
  }
}
