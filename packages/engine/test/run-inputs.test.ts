import { describe, expect, it } from 'vitest'
import { assertValidWorkflow, resolveRunInputs } from '../src/index.js'

const { workflow } = assertValidWorkflow({
  name: 'inputs',
  inputs: {
    topic: { type: 'string', required: true },
    limit: { type: 'integer', default: 5 },
    tags: { type: 'array' },
  },
  steps: [{ id: 'a', kind: 'transform', output: 1 }],
})

describe('resolveRunInputs', () => {
  it('applies defaults and keeps given values', () => {
    expect(resolveRunInputs(workflow, { topic: 'x', tags: ['a'] })).toEqual({
      ok: true,
      inputs: { topic: 'x', tags: ['a'], limit: 5 },
    })
  })

  it('reports missing, undeclared and mistyped inputs', () => {
    expect(resolveRunInputs(workflow, { limit: 2.5, topik: 'x', tags: [undefined] })).toEqual({
      ok: false,
      errors: [
        { path: 'inputs.limit', code: 'invalid_field', message: 'input "limit" must be an integer, not a number' },
        { path: 'inputs.tags', code: 'invalid_field', message: 'input "tags" is not JSON data: it holds undefined' },
        { path: 'inputs.topic', code: 'missing_field', message: 'input "topic" is required' },
        {
          path: 'inputs.topik',
          code: 'unknown_field',
          message: 'input "topik" is not declared (did you mean "topic"?); declared inputs: topic, limit, tags',
        },
      ],
    })
  })

  it('refuses an input nested past what an event holds, naming the limit, however deep it is', () => {
    const nest = (levels: number): unknown => {
      let v: unknown = 1
      for (let i = 0; i < levels; i++) v = [v]
      return v
    }
    expect(resolveRunInputs(workflow, { topic: 'x', tags: nest(63) })).toMatchObject({ ok: true })
    for (const levels of [64, 5000]) {
      expect(resolveRunInputs(workflow, { topic: 'x', tags: nest(levels) })).toEqual({
        ok: false,
        errors: [
          {
            path: 'inputs.tags',
            code: 'limit_exceeded',
            message:
              'input "tags" nests lists and objects more than 63 levels deep, the most a run input may ' +
              "(the run's inputs are recorded as one object, which an event holds at most 64 levels deep)",
          },
        ],
      })
    }
  })
})
