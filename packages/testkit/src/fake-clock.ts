import type { Clock } from '@shiioo/core'

interface PendingTimer {
  at: number
  fn: () => void
  order: number
}

/** A clock that moves only when told to; timers fire, in time order, as it moves past them. */
export class FakeClock implements Clock {
  private timers: PendingTimer[] = []
  private order = 0
  constructor(private t = Date.UTC(2026, 10, 24, 12, 0, 0)) {}
  now(): number {
    return this.t
  }
  setTimer(at: number, fn: () => void): () => void {
    const timer = { at, fn, order: this.order++ }
    if (at <= this.t) {
      queueMicrotask(() => {
        if (this.timers.includes(timer)) this.fire(timer)
      })
    }
    this.timers.push(timer)
    return () => {
      this.timers = this.timers.filter((x) => x !== timer)
    }
  }
  /** Moves time forward, firing every timer that comes due on the way, each at its own time. */
  advance(ms: number): void {
    this.set(this.t + ms)
  }
  set(ms: number): void {
    for (;;) {
      const next = this.timers.filter((x) => x.at <= ms).sort((a, b) => a.at - b.at || a.order - b.order)[0]
      if (!next) break
      this.t = Math.max(this.t, next.at)
      this.fire(next)
    }
    this.t = ms
  }
  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length
  }
  private fire(timer: PendingTimer): void {
    this.timers = this.timers.filter((x) => x !== timer)
    timer.fn()
  }
}
