/**
 * Amounts (requests or tokens) counted over a sliding window of time: what a vendor's per-minute
 * or per-day limit sees. Entries older than the window fall out.
 */
export class SlidingWindow {
  private readonly times: number[] = []
  private readonly amounts: number[] = []
  private head = 0
  private total = 0
  /** Entries dropped from the arrays so far: an entry's handle minus this is its index. */
  private dropped = 0

  constructor(readonly windowMs: number) {}

  /** Counts `amount` at `now`; returns a handle to settle it later. */
  add(now: number, amount: number): number {
    this.times.push(now)
    this.amounts.push(amount)
    this.total += amount
    return this.dropped + this.times.length - 1
  }

  /** Replaces an entry's amount (a reservation settled with the real usage), if it is still in the window. */
  settle(handle: number, amount: number): void {
    const i = handle - this.dropped
    if (i < this.head || i >= this.amounts.length) return
    this.total += amount - this.amounts[i]!
    this.amounts[i] = amount
  }

  used(now: number): number {
    this.expire(now)
    return this.total
  }

  /** When `amount` more would fit under `limit` (now if it fits now, Infinity if it never can). */
  freeAt(now: number, amount: number, limit: number): number {
    this.expire(now)
    if (this.total + amount <= limit) return now
    if (amount > limit) return Infinity
    let excess = this.total + amount - limit
    for (let i = this.head; i < this.times.length; i++) {
      excess -= this.amounts[i]!
      if (excess <= 0) return this.times[i]! + this.windowMs
    }
    return Infinity
  }

  private expire(now: number): void {
    const cutoff = now - this.windowMs
    while (this.head < this.times.length && this.times[this.head]! <= cutoff) {
      this.total -= this.amounts[this.head]!
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head)
      this.amounts.splice(0, this.head)
      this.dropped += this.head
      this.head = 0
    }
  }
}
