/** Time, injected so tests control it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
  /**
   * Calls `fn` once when the clock reaches `at` (epoch milliseconds; at once if it already has).
   * Returns a function that cancels the timer. Durable timers are events; this only wakes the
   * process that holds them.
   */
  setTimer(at: number, fn: () => void): () => void
}

/** setTimeout takes at most 2^31-1 ms; longer waits are chained. */
const MAX_DELAY = 2 ** 31 - 1

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(at, fn) {
    let handle: NodeJS.Timeout
    const arm = () => {
      const delay = at - Date.now()
      handle = setTimeout(delay > MAX_DELAY ? arm : fn, Math.max(0, Math.min(delay, MAX_DELAY)))
    }
    arm()
    return () => clearTimeout(handle)
  },
}
