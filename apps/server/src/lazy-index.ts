import type { IndexStore } from '@shiioo/core'

/**
 * An index opened on first use. Commands that never query it (`events`, `verify`) then work
 * whatever state its file is in, and `index rebuild` can discard a damaged file before it is ever
 * opened. `discard()` closes it if open and deletes its files; the next use opens a new, empty one.
 */
export class LazyIndex implements IndexStore {
  private opened: IndexStore | null = null

  constructor(
    private readonly open: () => IndexStore,
    private readonly deleteFiles: () => Promise<void>,
  ) {}

  /** Opens the index now (a failure to open is then reported at once, not on first use). */
  openNow(): void {
    this.store()
  }

  private store(): IndexStore {
    this.opened ??= this.open()
    return this.opened
  }

  async discard(): Promise<void> {
    await this.close()
    await this.deleteFiles()
  }

  async getRuns(request: Parameters<IndexStore['getRuns']>[0]): ReturnType<IndexStore['getRuns']> {
    return this.store().getRuns(request)
  }
  async save(request: Parameters<IndexStore['save']>[0]): Promise<void> {
    return this.store().save(request)
  }
  async costs(query: Parameters<IndexStore['costs']>[0]): ReturnType<IndexStore['costs']> {
    return this.store().costs(query)
  }
  async checkpoints(): ReturnType<IndexStore['checkpoints']> {
    return this.store().checkpoints()
  }
  async rows(query: Parameters<IndexStore['rows']>[0]): ReturnType<IndexStore['rows']> {
    return this.store().rows(query)
  }
  async feedPosition(): ReturnType<IndexStore['feedPosition']> {
    return this.store().feedPosition()
  }
  async getRun(request: Parameters<IndexStore['getRun']>[0]): ReturnType<IndexStore['getRun']> {
    return this.store().getRun(request)
  }
  async listRuns(query: Parameters<IndexStore['listRuns']>[0]): ReturnType<IndexStore['listRuns']> {
    return this.store().listRuns(query)
  }
  async reset(): Promise<void> {
    return this.store().reset()
  }
  async close(): Promise<void> {
    const opened = this.opened
    this.opened = null
    await opened?.close()
  }
}
