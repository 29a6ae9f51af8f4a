import { describe, expect, it } from 'vitest'
import { LazyAbort } from '../../src/run/lazy-abort.js'

describe('an attempt signal made on first use', () => {
  it('starts out aborted, with the reason, when the attempt was aborted before anyone asked for it', () => {
    const a = new LazyAbort()
    const reason = new Error('timed out')
    a.abort(reason)
    expect(a.signal.aborted).toBe(true)
    expect(a.signal.reason).toBe(reason)
  })

  it('fires abort listeners once when aborted after the signal was handed out, and keeps the first reason', () => {
    const a = new LazyAbort()
    const signal = a.signal
    expect(signal.aborted).toBe(false)
    expect(a.signal).toBe(signal) // one signal per attempt
    let fired = 0
    signal.addEventListener('abort', () => fired++)
    const first = new Error('cancelled')
    a.abort(first)
    a.abort(new Error('later'))
    expect(fired).toBe(1)
    expect(signal.reason).toBe(first)
  })
})
