import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseWorkflow } from '../src/index.js'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

describe('parseWorkflow', () => {
  it('parses the reference definition from YAML', () => {
    const result = parseWorkflow(fixture('brief.yaml'))
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.workflow.steps.map((s) => s.kind)).toEqual([
      'tool',
      'agent',
      'approval',
      'foreach',
      'wait',
      'subworkflow',
      'transform',
    ])
    const fetch = result.workflow.steps[0]!
    expect(fetch.timeout).toBe(30_000)
    expect(fetch.retry).toEqual({
      maxAttempts: 3,
      backoff: { initial: 1000, factor: 2, max: 30_000, jitter: 0.2 },
      retryOn: ['UNAVAILABLE', 'RATE_LIMITED', 'TIMEOUT'],
    })
  })

  it('reports YAML syntax errors with line and column', () => {
    const result = parseWorkflow('name: x\nsteps:\n  - id: a\n    kind: [transform\n  - id: b\n')
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          path: '',
          code: 'syntax',
          message: 'invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
          line: 5,
          column: 3,
        },
      ],
    })
  })

  it('reports the first ten YAML syntax problems and sums up the rest', () => {
    const result = parseWorkflow(`name: x\nsteps:\n  - id: a\n    kind: transform\n    output: ${'"'.repeat(360)}\n`)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.errors).toHaveLength(11)
    expect(result.errors[10]!.message).toMatch(/^invalid YAML: \d+ more problems after these$/)
  })

  it('reports duplicate YAML keys and tabs', () => {
    expect(parseWorkflow('name: x\nname: y\n')).toEqual({
      ok: false,
      errors: [{ path: '', code: 'syntax', message: 'invalid YAML: Map keys must be unique', line: 2, column: 1 }],
    })
    const tabs = parseWorkflow('name: x\nsteps:\n\t- id: a\n')
    expect(tabs.ok).toBe(false)
    if (!tabs.ok) expect(tabs.errors[0]).toMatchObject({ code: 'syntax', line: 3, column: 1 })
  })

  it('refuses several documents and unknown tags', () => {
    const multi = parseWorkflow('name: a\n---\nname: b\n')
    expect(multi.ok ? [] : multi.errors.map((e) => e.message)).toEqual([
      'invalid YAML: Source contains multiple documents; please use YAML.parseAllDocuments()',
    ])
    const tag = parseWorkflow('name: !secret x\n')
    expect(tag.ok ? [] : tag.errors.map((e) => e.message)).toEqual(['invalid YAML: Unresolved tag: !secret'])
  })

  it('limits YAML alias expansion', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 1; i < 12; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      )
    const result = parseWorkflow(lines.join('\n'))
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.errors[0]!.message).toMatch(/^invalid YAML: Excessive alias count/)
  })

  it('reads YAML 1.2: yes and on stay strings', () => {
    const result = parseWorkflow('name: x\nsteps:\n  - id: a\n    kind: transform\n    output: [yes, on, 0o17]\n')
    expect(result.ok && result.workflow.steps[0]).toMatchObject({ output: ['yes', 'on', 15] })
  })

  it('reports JSON syntax errors with line and column', () => {
    expect(parseWorkflow('{\n  "name": "x",\n  "steps": [\n    { "id": "a", }\n  ]\n}')).toEqual({
      ok: false,
      errors: [{ path: '', code: 'syntax', message: `invalid JSON: a trailing ',' before '}'`, line: 4, column: 18 }],
    })
    expect(parseWorkflow('{"name": "x", "steps": [}', 'json')).toEqual({
      ok: false,
      errors: [
        {
          path: '',
          code: 'syntax',
          message: `invalid JSON: unexpected '}' where a value should be`,
          line: 1,
          column: 25,
        },
      ],
    })
    expect(parseWorkflow('{"name": "x"', 'json')).toMatchObject({
      errors: [{ message: `invalid JSON: expected ',' or '}' after a value, found the end of the text`, line: 1 }],
    })
  })

  it('refuses repeated keys in JSON, which JSON.parse would drop silently', () => {
    expect(parseWorkflow('{"name": "x", "name": "y"}')).toMatchObject({
      ok: false,
      errors: [{ code: 'syntax', message: 'invalid JSON: Map keys must be unique', line: 1, column: 15 }],
    })
  })

  it('places validation errors on the line of the offending key or item', () => {
    const text = [
      'name: located',
      'steps:',
      '  - id: a',
      '    kind: transform',
      '    output: 1',
      '  - id: b',
      '    kind: transform',
      '    needs: [a, nope]',
      '    output: 2',
      '    colour: red',
      '  - id: c',
      '    kind: agent',
    ].join('\n')
    const result = parseWorkflow(text)
    expect(result.ok ? [] : result.errors.map((e) => [e.path, e.line, e.column])).toEqual([
      ['steps[1].colour', 10, 5],
      ['steps[1].needs[1]', 8, 16],
      ['steps[2].prompt', 11, 5],
      ['steps[2].role', 11, 5],
    ])
  })

  it('places validation errors in JSON text too', () => {
    const result = parseWorkflow('{\n  "name": "j",\n  "steps": [\n    {"id": "a", "kind": "tranform"}\n  ]\n}')
    expect(result.ok ? [] : result.errors.map((e) => [e.path, e.code, e.line, e.column])).toEqual([
      ['steps[0].kind', 'unknown_kind', 4, 17],
    ])
  })

  it('limits the size of the text', () => {
    const result = parseWorkflow(`name: x\n# ${'y'.repeat(200)}\n`, undefined, { limits: { maxDefinitionBytes: 100 } })
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          path: '',
          code: 'limit_exceeded',
          message: 'the definition has 211 bytes, over the limit maxDefinitionBytes (100)',
        },
      ],
    })
  })

  it('reports an empty document as not a definition', () => {
    expect(parseWorkflow('# nothing\n')).toMatchObject({
      ok: false,
      errors: [{ path: '', message: 'a workflow definition is an object (a mapping), not null' }],
    })
  })
})
