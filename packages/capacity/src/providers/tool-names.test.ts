import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { VENDOR_TOOL_NAME, vendorToolNames } from './tool-names.js'

describe('vendor tool names', () => {
  it('keeps valid names and replaces what the vendors refuse', () => {
    const m = vendorToolNames(['core.echo', 'core_noop', 'github.search-issues'])
    expect(m.toVendor('core.echo')).toBe('core_echo')
    expect(m.toVendor('core_noop')).toBe('core_noop')
    expect(m.toVendor('github.search-issues')).toBe('github_search-issues')
    expect(m.fromVendor('core_echo')).toBe('core.echo')
    expect(m.fromVendor('github_search-issues')).toBe('github.search-issues')
    // a name the request did not send is the model's own: it stays as it is (and is refused later)
    expect(m.fromVendor('made_up')).toBe('made_up')
  })

  it('never maps two names to one: a sanitized name that meets another gets a hash', () => {
    const m = vendorToolNames(['a.b', 'a_b', 'a/b'])
    expect(m.toVendor('a_b')).toBe('a_b')
    expect(m.toVendor('a.b')).toMatch(/^a_b_[0-9a-f]{8}$/)
    expect(m.toVendor('a/b')).toMatch(/^a_b_[0-9a-f]{8}$/)
    expect(m.toVendor('a.b')).not.toBe(m.toVendor('a/b'))
    for (const n of ['a.b', 'a_b', 'a/b']) expect(m.fromVendor(m.toVendor(n))).toBe(n)
  })

  it('cuts names over 64 characters and keeps them apart by hash', () => {
    const long1 = `mcp.server-with-a-long-name.${'x'.repeat(60)}.tool_one`
    const long2 = `mcp.server-with-a-long-name.${'x'.repeat(60)}.tool_two`
    const m = vendorToolNames([long1, long2, 'y'.repeat(65)])
    for (const n of [long1, long2, 'y'.repeat(65)]) {
      expect(m.toVendor(n)).toMatch(VENDOR_TOOL_NAME)
      expect(m.toVendor(n).length).toBe(64)
      expect(m.fromVendor(m.toVendor(n))).toBe(n)
    }
    expect(m.toVendor(long1)).not.toBe(m.toVendor(long2))
  })

  it('maps the same set the same way whatever its order (every turn of a conversation agrees)', () => {
    const a = vendorToolNames(['x.y', 'x_y', 'z'])
    const b = vendorToolNames(['z', 'x_y', 'x.y'])
    expect(a.toVendor('x.y')).toBe(b.toVendor('x.y'))
  })

  it('property: any set of names maps to distinct valid names and back', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 100 }), { maxLength: 12 }), (names) => {
        const m = vendorToolNames(names)
        const sent = names.map((n) => m.toVendor(n))
        expect(new Set(sent).size).toBe(names.length)
        for (const [i, n] of names.entries()) {
          expect(sent[i]).toMatch(VENDOR_TOOL_NAME)
          expect(m.fromVendor(sent[i]!)).toBe(n)
        }
      }),
    )
  })
})
