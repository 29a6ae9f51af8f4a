import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { parseWorkflow, validateWorkflow } from '../src/index.js'
import { resolveLimits } from '../src/limits.js'
import { textNesting } from '../src/text-nesting.js'
import { nestingDepth } from '../src/value-limits.js'
import { onlyError } from './helpers.js'

/**
 * What validation knows of the event log's limits: a value a definition writes out that nests
 * deeper than an event holds is refused with its path, and a document nested deeper than
 * maxNesting is refused before the parser (which recurses per level) ever sees it.
 */

function nest(levels: number, leaf: unknown = 1): unknown {
  let v = leaf
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}

const EVENT = 'the most an event may hold'
const NESTING = 'the definition nests lists and maps more than 128 levels deep, over the limit maxNesting (128)'

describe('values a definition writes out', () => {
  it('a transform output, a tool input and the run output may nest 64 levels, not 65', () => {
    for (const [levels, ok] of [
      [64, true],
      [65, false],
    ] as const) {
      const errors = errorsIfAny({
        name: 'depth',
        steps: [
          { id: 't', kind: 'transform', output: nest(levels) },
          { id: 'u', kind: 'tool', tool: 'core.echo', input: nest(levels) },
        ],
        output: nest(levels),
      })
      const message = `the value nests lists and objects more than 64 levels deep, ${EVENT}`
      expect(errors).toEqual(
        ok
          ? []
          : [
              { path: 'output', code: 'limit_exceeded', message },
              { path: 'steps[0].output', code: 'limit_exceeded', message },
              { path: 'steps[1].input', code: 'limit_exceeded', message },
            ],
      )
    }
  })

  it("a foreach item's output and an input default may nest one level less: they are recorded inside a list or object", () => {
    const def = (levels: number) => ({
      name: 'depth',
      inputs: { v: { type: 'object', default: nest(levels) } },
      steps: [{ id: 'each', kind: 'foreach', items: '[1]', step: { kind: 'transform', output: nest(levels) } }],
    })
    expect(errorsIfAny(def(63))).toEqual([])
    const deeper = 'the value nests lists and objects more than 63 levels deep, the most'
    expect(errorsIfAny(def(64))).toEqual([
      {
        path: 'inputs.v.default',
        code: 'limit_exceeded',
        message: `${deeper} a run input may (the run's inputs are recorded as one object, which an event holds at most 64 levels deep)`,
      },
      {
        path: 'steps[0].step.output',
        code: 'limit_exceeded',
        message: `${deeper} a foreach item's output may (the foreach's output lists the items' outputs, which an event holds at most 64 levels deep)`,
      },
    ])
  })

  it('a deep value in YAML is refused with its line and column', () => {
    let yaml = 'name: deep\nsteps:\n  - id: t\n    kind: transform\n    output:\n'
    for (let i = 0; i < 70; i++) yaml += `${' '.repeat(6 + i)}a:\n`
    yaml += `${' '.repeat(76)}b: 1\n`
    const result = parseWorkflow(yaml)
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          path: 'steps[0].output',
          code: 'limit_exceeded',
          message: `the value nests lists and objects more than 64 levels deep, ${EVENT}`,
          line: 5,
          column: 5,
        },
      ],
    })
  })
})

describe('how deep a definition nests', () => {
  it('text nested past maxNesting is refused before parsing, at once, whatever its form and size', () => {
    const texts = {
      'JSON objects': JSON.stringify({ name: 'x', steps: [{ id: 't', kind: 'transform', output: nest(1000) }] }),
      'JSON lists, a megabyte of them': '{"name":"x","steps":' + '['.repeat(1024 * 1024 - 30),
      'YAML block maps':
        'name: x\nsteps:\n' + Array.from({ length: 200 }, (_, i) => `${' '.repeat(i + 2)}a:\n`).join(''),
      'YAML compact lists': 'name: x\nsteps:\n  ' + '- '.repeat(500) + '1\n',
      'YAML flow in block': 'name: x\nsteps:\n  - id: t\n    output: ' + '{a: '.repeat(300) + '1' + '}'.repeat(300),
    }
    for (const [what, text] of Object.entries(texts)) {
      const result = parseWorkflow(text)
      expect(result.ok, what).toBe(false)
      const error = onlyErrorOf(result)
      expect({ what, path: error.path, code: error.code, message: error.message }).toEqual({
        what,
        path: '',
        code: 'limit_exceeded',
        message: NESTING,
      })
      expect(error.line).toBeGreaterThan(0)
    }
  })

  it('an object nested past maxNesting (a TypeScript-built definition) is refused without overflowing the stack', () => {
    expect(onlyError({ name: 'x', steps: [{ id: 't', kind: 'transform', output: nest(100_000) }] })).toEqual({
      path: '',
      code: 'limit_exceeded',
      message: NESTING,
    })
  })

  it('maxNesting may be set up to 256, not beyond (deeper documents would overflow the parser)', () => {
    expect(resolveLimits({ maxNesting: 256 }).maxNesting).toBe(256)
    expect(() => resolveLimits({ maxNesting: 257 })).toThrow(/maxNesting must be at most 256/)
    const text = JSON.stringify({ name: 'x', steps: [{ id: 't', kind: 'transform', output: nest(20) }] })
    expect(onlyErrorOf(parseWorkflow(text, 'json', { limits: { maxNesting: 10 } })).message).toBe(
      'the definition nests lists and maps more than 10 levels deep, over the limit maxNesting (10)',
    )
  })

  it("the text's nesting estimate is at most one more than the value's depth, and at least half of it", () => {
    const value = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.boolean()),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), tie('node'), { maxKeys: 3 }),
      ),
    })).node
    fc.assert(
      fc.property(value, fc.constantFrom('json', 'block', 'flow'), (v, style) => {
        const text =
          style === 'json' ? JSON.stringify(v) : stringify(v, style === 'flow' ? { collectionStyle: 'flow' } : {})
        const depth = nestingDepth(v, 1000)
        const estimate = textNesting(text, 1000).depth
        expect(estimate).toBeLessThanOrEqual(depth + 1)
        expect(estimate).toBeGreaterThanOrEqual(Math.ceil(depth / 2))
      }),
      { numRuns: 500 },
    )
  })
})

function errorsIfAny(definition: unknown) {
  const result = validateWorkflow(definition)
  return result.ok ? [] : result.errors
}

function onlyErrorOf(result: ReturnType<typeof validateWorkflow>) {
  if (result.ok) throw new Error('expected the definition to be refused')
  expect(result.errors).toHaveLength(1)
  return result.errors[0]!
}
