import { ShiiooError } from '@shiioo/core'

/**
 * The failure of a call its caller aborted: the signal's reason when that is a ShiiooError (a step
 * timeout says what it is), else UNAVAILABLE, not retryable, `details.kind: 'aborted'` (the same
 * shape @shiioo/capacity gives an aborted model call).
 */
export function abortedError(what: string, reason: unknown): ShiiooError {
  if (reason instanceof ShiiooError) return reason
  return new ShiiooError('UNAVAILABLE', `${what} was aborted by its caller`, {
    retryable: false,
    details: { kind: 'aborted' },
    ...(reason === undefined ? {} : { cause: reason }),
  })
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts (a tool that never looks at its signal
 * cannot hold its caller past an abort; its late outcome is dropped).
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined)
    return Promise.reject(abortedError(what, signal.reason))
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(what, signal.reason))
    signal.addEventListener('abort', onAbort, { once: true })
    work.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject)
  })
}
