import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../src/index.js'

describe('parseTemplate', () => {
  it('leaves strings without ${{ as literals', () => {
    expect(parseTemplate('plain $ { text }}')).toEqual({
      ok: true,
      template: { kind: 'literal', text: 'plain $ { text }}' },
    })
  })

  it('recognizes one whole expression', () => {
    expect(parseTemplate('${{ steps.a.output }}')).toEqual({
      ok: true,
      template: { kind: 'expression', source: 'steps.a.output', offset: 4 },
    })
  })

  it('splits interpolations', () => {
    expect(parseTemplate('a ${{ x }} b ${{y}}')).toEqual({
      ok: true,
      template: {
        kind: 'interpolation',
        parts: [
          { kind: 'text', text: 'a ' },
          { kind: 'expression', source: 'x', offset: 6 },
          { kind: 'text', text: ' b ' },
          { kind: 'expression', source: 'y', offset: 16 },
        ],
      },
    })
  })

  it('does not end an expression at }} inside a map literal or a string', () => {
    const nested = parseTemplate("${{ {'a': {'b': 1}} }}")
    expect(nested.ok && nested.template).toEqual({ kind: 'expression', source: "{'a': {'b': 1}}", offset: 4 })
    const tight = parseTemplate("${{ {'a': 1}}}")
    expect(tight.ok && tight.template).toEqual({ kind: 'expression', source: "{'a': 1}", offset: 4 })
    const quoted = parseTemplate('${{ "}}" + \'\\\'}}\' + r"\\" }}')
    expect(quoted.ok && quoted.template).toMatchObject({ kind: 'expression', source: '"}}" + \'\\\'}}\' + r"\\"' })
    const triple = parseTemplate('${{ """a "}}" b""" }}!')
    expect(triple.ok && triple.template).toMatchObject({ kind: 'interpolation' })
  })

  it('writes a literal ${{ as an expression', () => {
    expect(parseTemplate("${{ '${{' }}")).toMatchObject({ ok: true, template: { kind: 'expression', source: "'${{'" } })
  })

  it('reports unclosed and empty templates', () => {
    expect(parseTemplate('x ${{ a')).toEqual({
      ok: false,
      message: 'a ${{ is never closed with }} (or a string literal inside it is never closed)',
      offset: 2,
    })
    expect(parseTemplate('${{ "}} }}')).toMatchObject({ ok: false, offset: 0 })
    expect(parseTemplate('${{   }}')).toEqual({ ok: false, message: 'a ${{ }} holds no expression', offset: 0 })
  })
})
