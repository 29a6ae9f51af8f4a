import { describe, expect, it } from 'vitest'
import { ShiiooError } from '@shiioo/core'
import type { ExpressionScope } from '../src/index.js'
import { evaluate, evaluateCondition, evaluateList, evaluateTimestamp, renderTemplate } from '../src/index.js'

const scope: ExpressionScope = {
  inputs: { topic: 'durable workflows', limit: 3, ratio: 0.5 },
  steps: {
    fetch: {
      output: { status: 200, body: 'text', sources: [{ url: 'https://a.example' }, { url: 'https://b.example' }] },
    },
  },
  run: { id: 'run_01J0000000000000000000000', startedAt: '2025-01-02T03:04:05Z' },
}

function failure(fn: () => unknown): ShiiooError {
  try {
    fn()
  } catch (error) {
    if (error instanceof ShiiooError) return error
    throw error
  }
  throw new Error('expected a ShiiooError')
}

describe('evaluate', () => {
  it('reads inputs, step outputs and run', () => {
    expect(evaluate("inputs.topic + ' @ ' + run.startedAt", scope)).toBe('durable workflows @ 2025-01-02T03:04:05Z')
    expect(evaluate('steps.fetch.output.sources.map(s, s.url)', scope)).toEqual([
      'https://a.example',
      'https://b.example',
    ])
  })

  it('treats integral JSON numbers as CEL ints and returns them as numbers', () => {
    expect(evaluate('inputs.limit + 1', scope)).toBe(4)
    expect(evaluate('size(steps.fetch.output.sources) * 10', scope)).toBe(20)
    expect(evaluate('steps.fetch.output.status == 200', scope)).toBe(true)
    expect(evaluate('inputs.ratio * 2.0', scope)).toBe(1)
    expect(evaluate('7 / 2', {})).toBe(3)
    expect(evaluate('1u + 2u', {})).toBe(3)
    expect(evaluate("{'n': [1, 2.5, null, true]}", {})).toEqual({ n: [1, 2.5, null, true] })
  })

  it('gives item and index inside a foreach body, and event inside a match', () => {
    expect(evaluate("string(index) + ':' + item.url", { ...scope, item: { url: 'u' }, index: 2 })).toBe('2:u')
    expect(
      evaluateCondition('event.data.id == inputs.topic', { ...scope, event: { data: { id: 'durable workflows' } } }),
    ).toBe(true)
  })

  it('reports a missing field as an evaluation failure', () => {
    const error = failure(() => evaluate('steps.fetch.output.missing', scope))
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.message).toBe('expression "steps.fetch.output.missing" failed: No such key: missing')
    expect(error.details).toEqual({
      expression: 'steps.fetch.output.missing',
      failure: 'evaluation',
      celCode: 'no_such_key',
    })
    expect(failure(() => evaluate('steps.other.output', scope)).message).toBe(
      'expression "steps.other.output" failed: No such key: other',
    )
    expect(evaluate('has(steps.fetch.output.missing)', scope)).toBe(false)
  })

  it('reports syntax errors', () => {
    const error = failure(() => evaluate('1 +', scope))
    expect(error.message).toBe('expression "1 +" has a syntax error: Unexpected token: EOF')
    expect(error.details.failure).toBe('syntax')
  })

  it('rejects results JSON cannot hold', () => {
    expect(failure(() => evaluate('b"abc"', {})).message).toBe(
      'expression "b\\"abc\\"" yields bytes, which is not JSON; convert it with .string() or .base64()',
    )
    expect(failure(() => evaluate("timestamp('2025-01-01T00:00:00Z')", {})).message).toBe(
      `expression "timestamp('2025-01-01T00:00:00Z')" yields a timestamp, which is not JSON`,
    )
    expect(failure(() => evaluate("duration('1h')", {})).message).toBe(
      `expression "duration('1h')" yields a duration, which is not JSON`,
    )
    expect(failure(() => evaluate('1.0 / 0.0', {})).message).toBe(
      'expression "1.0 / 0.0" yields Infinity, which JSON cannot hold',
    )
    expect(failure(() => evaluate('9007199254740993', {})).message).toBe(
      'expression "9007199254740993" yields the integer 9007199254740993, beyond what JSON numbers hold exactly',
    )
    expect(failure(() => evaluate('[type(1)]', {})).details.failure).toBe('result')
  })

  it('keeps object keys as data, never as prototypes', () => {
    const tricky = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}') as Record<string, never>
    const out = evaluate('inputs', { inputs: tricky }) as Record<string, unknown>
    expect(Object.keys(out)).toEqual(['__proto__', 'constructor'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(evaluate("inputs['__proto__'].polluted", { inputs: tricky })).toBe(true)
  })
})

describe('typed evaluations', () => {
  it('evaluateCondition wants a boolean', () => {
    expect(evaluateCondition('inputs.limit > 2', scope)).toBe(true)
    expect(failure(() => evaluateCondition('inputs.limit', scope)).message).toBe(
      'expression "inputs.limit" yields a number, not a boolean',
    )
  })

  it('evaluateList wants a list', () => {
    expect(evaluateList('steps.fetch.output.sources', scope)).toHaveLength(2)
    expect(failure(() => evaluateList('inputs.topic', scope)).message).toBe(
      'expression "inputs.topic" yields a string, not a list',
    )
  })

  it('evaluateTimestamp takes a timestamp or an RFC 3339 string', () => {
    expect(evaluateTimestamp("timestamp(run.startedAt) + duration('90s')", scope)).toBe(
      Date.parse('2025-01-02T03:05:35Z'),
    )
    expect(evaluateTimestamp("'2025-01-02T03:04:05.5+01:00'", {})).toBe(Date.parse('2025-01-02T02:04:05.500Z'))
    expect(failure(() => evaluateTimestamp("'tomorrow'", {})).message).toBe(
      `expression "'tomorrow'" yields a string, not an RFC 3339 timestamp`,
    )
  })
})

describe('renderTemplate', () => {
  it('replaces a whole-expression string by its value, of any JSON type', () => {
    expect(renderTemplate('${{ steps.fetch.output.sources }}', scope)).toEqual([
      { url: 'https://a.example' },
      { url: 'https://b.example' },
    ])
    expect(renderTemplate('${{ inputs.limit }}', scope)).toBe(3)
  })

  it('interpolates text: strings as they are, anything else as JSON', () => {
    expect(
      renderTemplate('Summarize ${{ inputs.topic }} (${{ inputs.limit }} sources, ${{ [1, 2] }}, ${{ null }})', scope),
    ).toBe('Summarize durable workflows (3 sources, [1,2], null)')
  })

  it('renders templates anywhere inside objects and arrays, leaving keys and literals alone', () => {
    expect(
      renderTemplate(
        {
          url: "${{ 'https://x/?q=' + inputs.topic }}",
          '${{ keys }}': ['${{ 1 + 1 }}', 'plain', 5, null],
          nested: { ok: true },
        },
        scope,
      ),
    ).toEqual({ url: 'https://x/?q=durable workflows', '${{ keys }}': [2, 'plain', 5, null], nested: { ok: true } })
  })

  it('reports a broken template', () => {
    expect(failure(() => renderTemplate('x ${{ 1 +', scope)).message).toBe(
      'expression "x ${{ 1 +" is not a valid template: a ${{ is never closed with }} (or a string literal inside it is never closed)',
    )
  })
})
