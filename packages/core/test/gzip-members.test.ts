import { gunzipSync, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { encodeMember, scanMembers, ShiiooError } from '../src/index.js'

const file = (...texts: string[]) => Buffer.concat(texts.map(encodeMember))

describe('gzip member scanning', () => {
  it('reads lines across members, and the file is plain gzip for zcat', () => {
    const buf = file('{"a":1}\n{"a":2}\n', '{"a":3}\n')
    const scan = scanMembers(buf)
    expect(scan.lines.map((l) => l.text)).toEqual(['{"a":1}', '{"a":2}', '{"a":3}'])
    expect(scan.end).toBe(buf.length)
    expect(scan.tornTail).toBeNull()
    expect(gunzipSync(buf).toString()).toBe('{"a":1}\n{"a":2}\n{"a":3}\n')
  })

  it('reads members written by other gzip writers (header with a file name)', () => {
    const withName = gzipSync('{"b":1}\n')
    withName[3] = 8 // FNAME flag; splice a name after the 10-byte header
    const named = Buffer.concat([withName.subarray(0, 10), Buffer.from('events.jsonl\0'), withName.subarray(10)])
    expect(scanMembers(Buffer.concat([named, encodeMember('{"b":2}\n')])).lines.map((l) => l.text)).toEqual([
      '{"b":1}',
      '{"b":2}',
    ])
  })

  it('reports a cut-off last member as a torn tail, at the offset where it starts', () => {
    const whole = file('{"a":1}\n', '{"a":2}\n')
    const partial = encodeMember('{"a":3}\n'.repeat(50))
    for (const cut of [1, 5, 10, 17, Math.floor(partial.length / 2), partial.length - 1]) {
      const scan = scanMembers(Buffer.concat([whole, partial.subarray(0, cut)]))
      expect(scan.lines).toHaveLength(2)
      expect(scan.end).toBe(whole.length)
      expect(scan.tornTail?.offset).toBe(whole.length)
    }
  })

  it('refuses damage in the middle: a bad member followed by a good one is DATA_CORRUPTED, never skipped', () => {
    const a = encodeMember('{"a":1}\n'.repeat(30))
    const b = encodeMember('{"a":2}\n')
    const damaged = Buffer.from(a)
    damaged[20] = damaged[20]! ^ 0xff
    let error: unknown
    try {
      scanMembers(Buffer.concat([damaged, b]))
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ShiiooError)
    expect((error as ShiiooError).code).toBe('DATA_CORRUPTED')
    expect((error as ShiiooError).message).toMatch(/byte 0/)
  })

  it('detects a flipped bit by the CRC even when the deflate stream still decodes', () => {
    const a = encodeMember('{"a":1}\n')
    const crcByte = a.length - 8
    const bad = Buffer.from(a)
    bad[crcByte] = bad[crcByte]! ^ 1
    expect(() => scanMembers(Buffer.concat([bad, encodeMember('{"a":2}\n')]))).toThrow(/CRC|damaged/)
  })
})
