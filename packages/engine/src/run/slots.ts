/** A counting limit on attempts executing at once, engine-wide; waiters are woken when a slot frees. */
export class Slots {
  private used = 0
  private readonly waiters = new Set<() => void>()

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.used
  }

  take(): boolean {
    if (this.used >= this.limit) return false
    this.used++
    return true
  }

  /** Takes a slot even past the limit: for attempts that were already running before a restart. */
  force(): void {
    this.used++
  }

  release(): void {
    this.used = Math.max(0, this.used - 1)
    if (this.waiters.size === 0) return
    const waiting = [...this.waiters]
    this.waiters.clear()
    for (const wake of waiting) wake()
  }

  /**
   * Calls `wake` once a slot is free: at once if one is now (it may have been released while the
   * caller was committing what it decided when none was), else the next time one is released.
   */
  onFree(wake: () => void): void {
    if (this.used < this.limit) wake()
    else this.waiters.add(wake)
  }
}
