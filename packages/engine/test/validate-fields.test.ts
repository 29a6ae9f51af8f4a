import { describe, expect, it } from 'vitest'
import { validateWorkflow } from '../src/index.js'
import { errorsOf, onlyError } from './helpers.js'

const flow = (...steps: Record<string, unknown>[]) => ({ name: 'fields', steps })

describe('step kinds and fields', () => {
  it('names an unknown kind and lists the valid ones', () => {
    expect(onlyError(flow({ id: 'a', kind: 'branch' }))).toEqual({
      path: 'steps[0].kind',
      code: 'unknown_kind',
      message:
        'step "a": unknown step kind "branch"; valid kinds: agent, tool, approval, foreach, wait, subworkflow, transform',
    })
  })

  it('suggests a kind close to a misspelled one', () => {
    expect(onlyError(flow({ id: 'a', kind: 'agnet', role: 'analyst', prompt: 'hi' })).message).toBe(
      'step "a": unknown step kind "agnet" (did you mean "agent"?); valid kinds: agent, tool, approval, foreach, wait, subworkflow, transform',
    )
  })

  it('reports a step without a kind', () => {
    expect(onlyError(flow({ id: 'a', output: 1 }))).toEqual({
      path: 'steps[0].kind',
      code: 'missing_field',
      message:
        'step "a": missing required field "kind" (one of agent, tool, approval, foreach, wait, subworkflow, transform)',
    })
  })

  it('reports missing fields per kind', () => {
    expect(errorsOf(flow({ id: 'a', kind: 'agent', role: 'analyst' }, { id: 'b', kind: 'tool' }))).toEqual([
      { path: 'steps[0].prompt', code: 'missing_field', message: 'step "a": missing required field "prompt"' },
      { path: 'steps[1].tool', code: 'missing_field', message: 'step "b": missing required field "tool"' },
    ])
  })

  it('reports fields a kind does not have, with the allowed ones', () => {
    expect(onlyError(flow({ id: 'a', kind: 'transform', output: 1, prompt: 'x' }))).toEqual({
      path: 'steps[0].prompt',
      code: 'unknown_field',
      message:
        'step "a": unknown field "prompt" of a transform step; allowed: id, needs, when, timeout, retry, description, kind, output',
    })
  })

  it('suggests the field a misspelled one was meant to be', () => {
    expect(onlyError(flow({ id: 'a', kind: 'agent', role: 'analyst', prompt: 'p', maxTurn: 3 })).message).toBe(
      'step "a": unknown field "maxTurn" of an agent step (did you mean "maxTurns"?); allowed: id, needs, when, timeout, retry, description, kind, role, prompt, tools, maxTurns',
    )
  })

  it('reports unknown top-level fields', () => {
    expect(onlyError({ ...flow({ id: 'a', kind: 'transform', output: 1 }), version: 2 })).toEqual({
      path: 'version',
      code: 'unknown_field',
      message: 'unknown field "version"; allowed: name, description, inputs, limits, steps, output',
    })
  })

  it('reports wrong types and formats with the value', () => {
    expect(errorsOf({ name: 'Bad Name', steps: [{ id: 'a b', kind: 'transform', output: 1, needs: 'x' }] })).toEqual([
      {
        path: 'name',
        code: 'invalid_field',
        message:
          'name "Bad Name" is not valid: a workflow name is a lowercase letter then lowercase letters, digits or -, at most 63 characters',
      },
      {
        path: 'steps[0].id',
        code: 'invalid_field',
        message:
          'step "a b": id "a b" is not valid: a step id is a letter or _ then letters, digits, _ or -, at most 64 characters',
      },
      { path: 'steps[0].needs', code: 'invalid_field', message: 'step "a b": needs must be a list, not a string' },
    ])
  })

  it('reports a definition that is not an object, and one without steps', () => {
    expect(onlyError('name: x')).toEqual({
      path: '',
      code: 'invalid_field',
      message: 'a workflow definition is an object (a mapping), not a string',
    })
    expect(onlyError({ name: 'x', steps: [] })).toEqual({
      path: 'steps',
      code: 'invalid_field',
      message: 'a workflow needs at least one step',
    })
  })

  it('reports bad durations and retry settings', () => {
    expect(
      errorsOf(
        flow({
          id: 'a',
          kind: 'transform',
          output: 1,
          timeout: '5 minutes',
          retry: { maxAttempts: 0, backoff: { initial: '1m', max: '1s' } },
        }),
      ),
    ).toEqual([
      {
        path: 'steps[0].retry.backoff.max',
        code: 'invalid_field',
        message: 'step "a": backoff max (1000ms) is below backoff initial (60000ms)',
      },
      {
        path: 'steps[0].retry.maxAttempts',
        code: 'invalid_field',
        message: 'step "a": retry.maxAttempts must be at least 1',
      },
      {
        path: 'steps[0].timeout',
        code: 'invalid_field',
        message:
          'step "a": timeout "5 minutes" is not valid: a duration is a whole number with a unit ("500ms", "30s", "5m", "2h", "1d") or a number of milliseconds, at most 366d',
      },
    ])
  })

  it('reports a string tool input that is not one template', () => {
    expect(onlyError(flow({ id: 'a', kind: 'tool', tool: 'http.get', input: 'https://example.org' }))).toEqual({
      path: 'steps[0].input',
      code: 'invalid_field',
      message:
        'step "a": input "https://example.org" is not valid: a string input must be exactly one ${{ expr }} yielding an object; write literal values as an object',
    })
  })

  it('reports durations out of range', () => {
    expect(errorsOf(flow({ id: 'a', kind: 'wait', duration: '367d', timeout: 0 })).map((e) => e.message)).toEqual([
      'step "a": duration "367d" is not valid: a duration is a whole number with a unit ("500ms", "30s", "5m", "2h", "1d") or a number of milliseconds, at most 366d',
      'step "a": timeout 0 is not valid: this one is at least 1ms',
    ])
  })
})

describe('wait steps', () => {
  it('needs one of duration, until or event', () => {
    expect(onlyError(flow({ id: 'w', kind: 'wait' }))).toEqual({
      path: 'steps[0]',
      code: 'wait_target',
      message: 'step "w": a wait step needs one of duration, until or event',
    })
  })

  it('takes only one of them', () => {
    expect(onlyError(flow({ id: 'w', kind: 'wait', duration: '1h', event: { name: 'deploy.finished' } })).message).toBe(
      'step "w": a wait step takes exactly one of duration, until or event, not duration and event',
    )
  })

  it('accepts each on its own', () => {
    for (const target of [
      { duration: '1h' },
      { duration: 0 },
      { until: "'2030-01-01T00:00:00Z'" },
      { event: { name: 'deploy.finished', match: "event.data.id == 'x'" } },
    ]) {
      expect(validateWorkflow(flow({ id: 'w', kind: 'wait', ...target })).ok).toBe(true)
    }
  })
})

describe('foreach bodies', () => {
  const foreach = (body: Record<string, unknown>) =>
    flow(
      { id: 'list', kind: 'transform', output: [1, 2] },
      { id: 'each', kind: 'foreach', needs: ['list'], items: 'steps.list.output', step: body },
    )

  it('have no id or needs', () => {
    expect(errorsOf(foreach({ id: 'x', needs: ['list'], kind: 'transform', output: 1 }))).toEqual([
      {
        path: 'steps[1].step.id',
        code: 'foreach_body',
        message:
          'step "each" (foreach body): a foreach body has no id: it runs as part of step "each" with that step\'s id and needs',
      },
      {
        path: 'steps[1].step.needs',
        code: 'foreach_body',
        message:
          'step "each" (foreach body): a foreach body has no needs: it runs as part of step "each" with that step\'s id and needs',
      },
    ])
  })

  it('cannot be a foreach', () => {
    expect(onlyError(foreach({ kind: 'foreach', items: '[1]', step: { kind: 'transform', output: 1 } }))).toEqual({
      path: 'steps[1].step.kind',
      code: 'foreach_body',
      message:
        'step "each" (foreach body): a foreach body cannot be a foreach; fan out inside a subworkflow step instead',
    })
  })

  it('lists body kinds without foreach for an unknown one', () => {
    expect(onlyError(foreach({ kind: 'loop' })).message).toBe(
      'step "each" (foreach body): unknown step kind "loop"; valid kinds: agent, tool, approval, wait, subworkflow, transform',
    )
  })
})

describe('inputs', () => {
  it('reports a default that does not match the declared type', () => {
    expect(
      errorsOf({
        ...flow({ id: 'a', kind: 'transform', output: 1 }),
        inputs: {
          count: { type: 'integer', default: 1.5 },
          tags: { type: 'array', default: 'a,b' },
          notify: { type: 'boolean', default: false },
        },
      }),
    ).toEqual([
      {
        path: 'inputs.count.default',
        code: 'input_default',
        message: 'input "count": default is a number but the input is declared as an integer',
      },
      {
        path: 'inputs.tags.default',
        code: 'input_default',
        message: 'input "tags": default is a string but the input is declared as an array',
      },
    ])
  })

  it('reports a required input with a default, an unknown type and a bad name', () => {
    expect(
      errorsOf({
        ...flow({ id: 'a', kind: 'transform', output: 1 }),
        inputs: { a: { type: 'string', required: true, default: 'x' }, b: { type: 'text' }, 'c-d': { type: 'string' } },
      }),
    ).toEqual([
      {
        path: 'inputs.a.default',
        code: 'input_default',
        message: 'input "a": a required input has no default: drop `required: true` or the default',
      },
      {
        path: 'inputs.b.type',
        code: 'invalid_field',
        message:
          'input "b": type must be one of "string", "number", "integer", "boolean", "object", "array", not "text"',
      },
      {
        path: 'inputs["c-d"]',
        code: 'invalid_field',
        message:
          '"c-d" is not a valid name: an input name is a letter or _ then letters, digits or _, at most 64 characters',
      },
    ])
  })
})
