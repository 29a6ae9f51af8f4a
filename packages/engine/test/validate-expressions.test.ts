import { describe, expect, it } from 'vitest'
import { validateWorkflow } from '../src/index.js'
import { errorsOf, onlyError } from './helpers.js'

/** fetch <- summarize, and an unrelated step `other`; `step` is added last with the given fields. */
function withStep(fields: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    name: 'expr',
    inputs: { topic: { type: 'string', required: true } },
    steps: [
      { id: 'fetch', kind: 'tool', tool: 'http.get', input: { url: 'https://example.org' } },
      { id: 'other', kind: 'transform', output: 1 },
      { id: 'summarize', kind: 'transform', needs: ['fetch'], ...fields },
    ],
    ...extra,
  }
}

describe('expressions', () => {
  it('accepts expressions reading ancestors, inputs and run', () => {
    const result = validateWorkflow(
      withStep({
        when: 'steps.fetch.output.status == 200 && inputs.topic != ""',
        output: {
          text: 'Topic ${{ inputs.topic }} in run ${{ run.id }}',
          count: "${{ size(steps.fetch.output.items.filter(i, i.ok)) + size(steps['fetch'].output) }}",
        },
      }),
    )
    expect(result.ok).toBe(true)
  })

  it('reports a syntax error with the step, the field and the CEL message', () => {
    expect(onlyError(withStep({ output: 1, when: 'steps.fetch.output.status ==' }))).toEqual({
      path: 'steps[2].when',
      code: 'expression_syntax',
      message:
        'step "summarize": syntax error in when "steps.fetch.output.status ==" at column 29: Unexpected token: EOF',
    })
  })

  it('reports a syntax error inside a template', () => {
    expect(onlyError(withStep({ output: { a: ['x ${{ inputs.topic + }} y'] } }))).toEqual({
      path: 'steps[2].output.a[0]',
      code: 'expression_syntax',
      message:
        'step "summarize": syntax error in output.a[0] ${{ inputs.topic + }} at column 15: Unexpected token: EOF',
    })
  })

  it('reports a template that is never closed', () => {
    expect(onlyError(withStep({ output: 'a ${{ inputs.topic' }))).toEqual({
      path: 'steps[2].output',
      code: 'expression_syntax',
      message:
        'step "summarize": output has a bad template: a ${{ is never closed with }} (or a string literal inside it is never closed)',
    })
  })

  it('reports type errors the checker finds', () => {
    expect(onlyError(withStep({ output: '${{ 1 + "a" }}' })).message).toBe(
      'step "summarize": invalid expression in output ${{ 1 + "a" }} at column 1: no such overload: int + string',
    )
  })

  it('requires a boolean when, a list of items and a timestamp until', () => {
    const errors = errorsOf({
      name: 'types',
      steps: [
        { id: 'a', kind: 'transform', output: 1, when: '1 + 1' },
        { id: 'b', kind: 'foreach', items: '"abc"', step: { kind: 'transform', output: 1 } },
        { id: 'c', kind: 'wait', until: '42' },
      ],
    })
    expect(errors.map((e) => e.message)).toEqual([
      'step "a": when must yield a boolean, but "1 + 1" yields int',
      'step "b": items must yield a list, but "\\"abc\\"" yields string',
      'step "c": until must yield a timestamp (an RFC 3339 string), but "42" yields int',
    ])
  })

  it('reports a read of a step that is not an ancestor, naming both', () => {
    expect(onlyError(withStep({ output: '${{ steps.other.output }}' }))).toEqual({
      path: 'steps[2].output',
      code: 'not_ancestor',
      message:
        'step "summarize": output reads steps.other.output, but "other" is not among the steps "summarize" depends on; add "other" to its needs (directly or through a step it needs)',
    })
  })

  it('accepts a transitive ancestor', () => {
    const def = {
      name: 'chain',
      steps: [
        { id: 'a', kind: 'transform', output: 1 },
        { id: 'b', kind: 'transform', needs: ['a'], output: 2 },
        { id: 'c', kind: 'transform', needs: ['b'], output: '${{ steps.a.output + steps.b.output }}' },
      ],
    }
    expect(validateWorkflow(def).ok).toBe(true)
  })

  it('reports a step reading its own output', () => {
    expect(onlyError(withStep({ output: '${{ steps.summarize.output }}' })).message).toBe(
      'step "summarize": output reads its own output (steps.summarize.output), which does not exist yet',
    )
  })

  it('reports an unknown step with a suggestion', () => {
    expect(onlyError(withStep({ output: '${{ steps.fecth.output }}' }))).toEqual({
      path: 'steps[2].output',
      code: 'unknown_reference',
      message: 'step "summarize": output reads steps.fecth, but there is no step "fecth" (did you mean "fetch"?)',
    })
  })

  it('reports an undeclared input with a suggestion', () => {
    expect(onlyError(withStep({ output: '${{ inputs.topc }}' })).message).toBe(
      'step "summarize": output reads inputs.topc, but the workflow declares no input "topc" (did you mean "topic"?)',
    )
    expect(onlyError({ name: 'x', steps: [{ id: 'a', kind: 'transform', output: '${{ inputs.q }}' }] }).message).toBe(
      'step "a": output reads inputs.q, but the workflow declares no inputs',
    )
  })

  it('requires .output after a step id', () => {
    expect(onlyError(withStep({ output: '${{ steps.fetch.body }}' })).message).toBe(
      'step "summarize": output reads steps.fetch.body; a step offers only output (write steps.fetch.output)',
    )
  })

  it('refuses steps read through a computed id', () => {
    expect(onlyError(withStep({ output: '${{ steps[inputs.topic].output }}' })).message).toBe(
      'step "summarize": output reads steps without a literal step id in ${{ steps[inputs.topic].output }}; write steps.<id>.output so the dependency can be checked',
    )
  })

  it('reports unknown run fields', () => {
    expect(onlyError(withStep({ output: '${{ run.started }}' })).message).toBe(
      'step "summarize": output reads run.started, but run has only id, startedAt (did you mean "startedAt"?)',
    )
  })

  it('knows item and index only in foreach bodies, and event only in event.match', () => {
    const errors = errorsOf({
      name: 'scopes',
      steps: [
        { id: 'a', kind: 'transform', output: '${{ item }}' },
        { id: 'b', kind: 'wait', until: 'event.at' },
      ],
    })
    expect(errors.map((e) => e.message)).toEqual([
      'step "a": invalid expression in output ${{ item }} at column 1: unknown variable "item" (in scope here: inputs, steps, run); item and index exist only inside a foreach body',
      `step "b": invalid expression in until "event.at" at column 1: unknown variable "event" (in scope here: inputs, steps, run); event exists only in a wait step's event.match`,
    ])
    const ok = validateWorkflow({
      name: 'scopes',
      steps: [
        { id: 'list', kind: 'transform', output: [1, 2] },
        {
          id: 'each',
          kind: 'foreach',
          needs: ['list'],
          items: 'steps.list.output',
          step: { kind: 'wait', when: 'index < 10', event: { name: 'item.done', match: 'event.id == item' } },
        },
      ],
    })
    expect(ok.ok).toBe(true)
  })

  it('checks foreach bodies against the foreach step ancestors', () => {
    const def = withStep({
      kind: 'foreach',
      items: 'steps.fetch.output.items',
      step: { kind: 'transform', output: '${{ [item, steps.fetch.output, steps.other.output] }}' },
    })
    expect(onlyError(def)).toEqual({
      path: 'steps[2].step.output',
      code: 'not_ancestor',
      message:
        'step "summarize": step.output reads steps.other.output, but "other" is not among the steps "summarize" depends on; add "other" to its needs (directly or through a step it needs)',
    })
  })

  it('hints at the bracket form for step ids with a dash', () => {
    const def = {
      name: 'dash',
      steps: [
        { id: 'fetch-data', kind: 'transform', output: 1 },
        { id: 'b', kind: 'transform', needs: ['fetch-data'], output: '${{ steps.fetch-data.output }}' },
      ],
    }
    expect(onlyError(def).message).toBe(
      `step "b": invalid expression in output \${{ steps.fetch-data.output }} at column 13: unknown variable "data" (in scope here: inputs, steps, run); a step id with a dash is read as steps['my-step']`,
    )
    def.steps[1]!.output = "${{ steps['fetch-data'].output }}"
    expect(validateWorkflow(def).ok).toBe(true)
  })

  it('lets the run output read any step', () => {
    expect(validateWorkflow(withStep({ output: 1 }, { output: '${{ steps.other.output }}' })).ok).toBe(true)
    expect(onlyError(withStep({ output: 1 }, { output: '${{ steps.nope.output }}' }))).toEqual({
      path: 'output',
      code: 'unknown_reference',
      message: 'output reads steps.nope, but there is no step "nope"',
    })
  })

  it('honours names bound by macros', () => {
    const def = withStep({ output: '${{ [1, 2].map(steps, steps + 1) + [3].filter(inputs, inputs > 1) }}' })
    expect(validateWorkflow(def).ok).toBe(true)
  })

  it('checks expressions of valid steps even when another step is malformed', () => {
    const errors = errorsOf({
      name: 'partial',
      steps: [
        { id: 'a', kind: 'transform' },
        { id: 'b', kind: 'transform', output: '${{ steps.a.output }}' },
      ],
    })
    expect(errors.map((e) => [e.path, e.code])).toEqual([
      ['steps[0].output', 'missing_field'],
      ['steps[1].output', 'not_ancestor'],
    ])
  })
})
