import { describe, expect, it } from 'vitest'
import { createProgress } from '../src/cli/progress.js'

function sink(isTTY: boolean) {
  const writes: string[] = []
  return { out: { isTTY, write: (s: string) => writes.push(s) }, writes }
}

describe('createProgress', () => {
  it('redraws one bar in place on a terminal', () => {
    let t = 0
    const { out, writes } = sink(true)
    const p = createProgress({ out, unit: 'streams', label: 'rebuilding', width: 10, now: () => t })
    p.update(5200, 10000, '104000 events')
    expect(writes.at(-1)).toBe('\r[#####-----] 52% 5200/10000 streams 104000 events\x1b[K')
    t += 10
    p.update(5300, 10000) // throttled: drawn on finish
    expect(writes).toHaveLength(1)
    p.update(10000, 10000) // the end is always drawn
    expect(writes.at(-1)).toContain('[##########] 100% 10000/10000 streams')
    p.finish()
    expect(writes.at(-1)).toBe('\n')
  })

  it('writes a plain line every tenth when not on a terminal', () => {
    const { out, writes } = sink(false)
    const p = createProgress({ out, unit: 'streams', label: 'rebuilding' })
    for (let i = 0; i <= 1000; i++) p.update(i, 1000)
    p.finish()
    expect(writes).toHaveLength(11)
    expect(writes[5]).toBe('rebuilding: 50% 500/1000 streams\n')
    expect(writes.every((w) => !w.includes('\r'))).toBe(true)
  })

  it('counts when the total is unknown', () => {
    const { out, writes } = sink(true)
    const p = createProgress({ out, unit: 'blobs', label: 'verifying', now: () => 0 })
    p.update(100, undefined)
    p.update(200, undefined)
    p.finish()
    expect(writes).toEqual(['\rverifying: 100 blobs\x1b[K', '\rverifying: 200 blobs\x1b[K', '\n'])
  })

  it('handles an empty job', () => {
    const { out, writes } = sink(false)
    const p = createProgress({ out, unit: 'streams', label: 'rebuilding' })
    p.update(0, 0)
    p.finish()
    expect(writes).toEqual(['rebuilding: 100% 0/0 streams\n'])
  })
})
