import { describe, expect, it } from 'vitest'
import { Slots } from '../../src/run/slots.js'

describe('engine slots', () => {
  it('wakes a waiter registered after a slot was freed at once (a run starved while committing is not left waiting)', () => {
    const slots = new Slots(1)
    expect(slots.take()).toBe(true)
    expect(slots.take()).toBe(false) // a run decides it is starved, then commits what it decided...
    slots.release() // ...while the attempt holding the slot ends
    let woken = 0
    slots.onFree(() => woken++) // registered after the release: nothing else may ever release one
    expect(woken).toBe(1)
  })

  it('wakes waiters once, when a slot is released', () => {
    const slots = new Slots(1)
    slots.take()
    let woken = 0
    slots.onFree(() => woken++)
    expect(woken).toBe(0)
    slots.release()
    slots.take()
    slots.release()
    expect(woken).toBe(1)
  })
})
