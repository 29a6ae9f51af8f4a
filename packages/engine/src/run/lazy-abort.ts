/**
 * An attempt's abort signal, made only when something asks for it: an AbortController is one of
 * the dearer objects of a step, and most tools never look at their signal. Aborting before the
 * signal was asked for is remembered, so the signal then starts out aborted with the same reason.
 */
export class LazyAbort {
  private controller: AbortController | null = null
  private aborted = false
  private reason: unknown = undefined

  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController()
      if (this.aborted) this.controller.abort(this.reason)
    }
    return this.controller.signal
  }

  abort(reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.controller?.abort(reason)
  }
}
