import { describe, expect, it } from 'vitest'
import { ShiiooError } from '@shiioo/core'
import { assertValidWorkflow, validateWorkflow } from '../src/index.js'
import { errorsOf, onlyError, workflowOf } from './helpers.js'

describe('dependency graph', () => {
  it('accepts a valid DAG and normalizes it', () => {
    const result = validateWorkflow(workflowOf({ a: [], b: ['a'], c: ['a', 'b'] }))
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(result.workflow.steps[0]).toMatchObject({
      id: 'a',
      needs: [],
      retry: {
        maxAttempts: 1,
        backoff: { initial: 1000, factor: 2, max: 300_000, jitter: 0.2 },
        retryOn: ['UNAVAILABLE', 'RATE_LIMITED', 'TIMEOUT'],
      },
    })
  })

  it('prints a cycle path', () => {
    expect(onlyError(workflowOf({ a: ['c'], b: ['a'], c: ['b'] }))).toEqual({
      path: 'steps[0].needs[0]',
      code: 'cycle',
      message: 'cycle: a -> c -> b -> a (each step needs the next, so none of them can start)',
    })
  })

  it('reports one cycle per independent loop, each starting at its earliest step', () => {
    const errors = errorsOf(workflowOf({ x: [], a: ['b'], b: ['a'], c: ['d', 'x'], d: ['e'], e: ['c'] }))
    expect(errors.map((e) => e.message)).toEqual([
      'cycle: a -> b -> a (each step needs the next, so none of them can start)',
      'cycle: c -> d -> e -> c (each step needs the next, so none of them can start)',
    ])
    expect(errors.map((e) => e.path)).toEqual(['steps[1].needs[0]', 'steps[3].needs[0]'])
  })

  it('finds a shortest cycle through the earliest step of a tangled component', () => {
    const error = onlyError(workflowOf({ a: ['b', 'c'], b: ['c'], c: ['d'], d: ['a'] }))
    expect(error.message).toBe('cycle: a -> c -> d -> a (each step needs the next, so none of them can start)')
    expect(error.path).toBe('steps[0].needs[1]')
  })

  it('names an unknown need and suggests a close id', () => {
    expect(onlyError(workflowOf({ fetch: [], summarize: ['fecth'] }))).toEqual({
      path: 'steps[1].needs[0]',
      code: 'unknown_need',
      message: 'step "summarize" needs "fecth", which is not a step of this workflow (did you mean "fetch"?)',
    })
  })

  it('lists the steps when no id is close to an unknown need', () => {
    expect(onlyError(workflowOf({ fetch: [], summarize: ['publish'] })).message).toBe(
      'step "summarize" needs "publish", which is not a step of this workflow; the steps are: fetch, summarize',
    )
  })

  it('names both positions of a duplicate id', () => {
    const errors = errorsOf({
      name: 'dup',
      steps: [
        { id: 'a', kind: 'transform', output: 1 },
        { id: 'b', kind: 'transform', output: 2 },
        { id: 'a', kind: 'transform', output: 3 },
      ],
    })
    expect(errors).toEqual([
      {
        path: 'steps[2].id',
        code: 'duplicate_id',
        message: 'duplicate step id "a": steps[0] and steps[2] both use it',
      },
    ])
  })

  it('reports a self-dependency', () => {
    expect(onlyError(workflowOf({ a: [], b: ['a', 'b'] }))).toEqual({
      path: 'steps[1].needs[1]',
      code: 'self_dependency',
      message: 'step "b" needs itself',
    })
  })

  it('reports a need listed twice', () => {
    expect(onlyError(workflowOf({ a: [], b: ['a', 'a'] }))).toEqual({
      path: 'steps[1].needs[1]',
      code: 'duplicate_need',
      message: 'step "b" lists "a" twice in needs (needs[0] and needs[1])',
    })
  })

  it('collects every graph problem at once, sorted by path', () => {
    const errors = errorsOf(workflowOf({ a: ['a'], b: ['zzz'], c: ['d'], d: ['c'] }))
    expect(errors.map((e) => [e.path, e.code])).toEqual([
      ['steps[0].needs[0]', 'self_dependency'],
      ['steps[1].needs[0]', 'unknown_need'],
      ['steps[2].needs[0]', 'cycle'],
    ])
  })

  it('finds graph problems even when other fields are wrong', () => {
    const errors = errorsOf({
      name: 'mixed',
      steps: [
        { id: 'a', kind: 'transform', needs: ['b'], output: 1, colour: 'red' },
        { id: 'b', kind: 'transform', needs: ['a'] },
      ],
    })
    expect(errors.map((e) => [e.path, e.code])).toEqual([
      ['steps[0].colour', 'unknown_field'],
      ['steps[0].needs[0]', 'cycle'],
      ['steps[1].output', 'missing_field'],
    ])
  })
})

describe('limits', () => {
  it('limits the number of steps', () => {
    const needs = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`s${i}`, []]))
    expect(onlyError(workflowOf(needs), { limits: { maxSteps: 5 } })).toEqual({
      path: 'steps',
      code: 'limit_exceeded',
      message: 'the workflow has 6 steps, over the limit maxSteps (5)',
    })
  })

  it('limits the depth and shows the longest chain', () => {
    const needs = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`s${i}`, i === 0 ? [] : [`s${i - 1}`]]))
    expect(onlyError(workflowOf(needs), { limits: { maxDepth: 7 } })).toEqual({
      path: 'steps',
      code: 'limit_exceeded',
      message:
        'the longest chain of dependent steps has 8 steps (s0 -> s1 -> s2 -> ... -> s6 -> s7), over the limit maxDepth (7)',
    })
    expect(validateWorkflow(workflowOf(needs), { limits: { maxDepth: 8 } }).ok).toBe(true)
  })

  it('limits needs per step', () => {
    expect(onlyError(workflowOf({ a: [], b: [], c: ['a', 'b'] }), { limits: { maxNeedsPerStep: 1 } })).toEqual({
      path: 'steps[2].needs',
      code: 'limit_exceeded',
      message: 'step "c" needs 2 steps, over the limit maxNeedsPerStep (1)',
    })
  })

  it('limits expression length', () => {
    const long = Array.from({ length: 30 }, (_, i) => String(i)).join(' + ')
    const def = { name: 'long', steps: [{ id: 'a', kind: 'transform', output: `\${{ ${long} }}` }] }
    expect(onlyError(def, { limits: { maxExpressionLength: 50 } })).toEqual({
      path: 'steps[0].output',
      code: 'limit_exceeded',
      message: `step "a": an expression in output has ${long.length} characters, over the limit maxExpressionLength (50)`,
    })
  })

  it('limits the definition size', () => {
    const def = { name: 'big', steps: [{ id: 'a', kind: 'transform', output: 'x'.repeat(2000) }] }
    const error = onlyError(def, { limits: { maxDefinitionBytes: 1000 } })
    expect(error.code).toBe('limit_exceeded')
    expect(error.message).toMatch(/^the definition has \d+ bytes as JSON, over the limit maxDefinitionBytes \(1000\)$/)
  })

  it('refuses a limit that is not a positive integer', () => {
    expect(() => validateWorkflow(workflowOf({ a: [] }), { limits: { maxSteps: 0 } })).toThrow(
      'validation limit maxSteps must be a positive integer, not 0',
    )
  })
})

describe('assertValidWorkflow', () => {
  it('throws INVALID_INPUT with every error in details', () => {
    let thrown: unknown
    try {
      assertValidWorkflow(workflowOf({ a: ['b'], b: ['a'], c: ['nope'] }))
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ShiiooError)
    const error = thrown as ShiiooError
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.retryable).toBe(false)
    expect(error.message).toBe(
      'invalid workflow definition (2 problems):\n' +
        'steps[0].needs[0]: cycle: a -> b -> a (each step needs the next, so none of them can start)\n' +
        'steps[2].needs[0]: step "c" needs "nope", which is not a step of this workflow; the steps are: a, b, c',
    )
    expect(error.details.errors).toHaveLength(2)
  })

  it('returns the workflow and its hash', () => {
    const { workflow, hash } = assertValidWorkflow(workflowOf({ a: [] }))
    expect(workflow.name).toBe('test-flow')
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
  })
})
