import { describe, expect, it } from 'vitest'
import { analyzeExpression } from '../src/index.js'

const base = { item: false, event: false }

function references(source: string, shape = base) {
  const result = analyzeExpression(source, shape)
  if (!result.ok) throw new Error(result.message)
  return result.references
}

describe('reference extraction from the syntax tree', () => {
  it('finds steps, inputs and run fields in dotted and bracket form', () => {
    expect(references("steps.a.output.x + steps['b-c'].output + inputs.topic + inputs['n'] + run.id")).toEqual({
      steps: [
        { id: 'a', field: 'output' },
        { id: 'b-c', field: 'output' },
      ],
      inputs: ['topic', 'n'],
      run: ['id'],
      dynamicSteps: false,
    })
  })

  it('ignores look-alikes inside string literals', () => {
    expect(references('\'steps.a.output\' + "inputs.b"')).toEqual({
      steps: [],
      inputs: [],
      run: [],
      dynamicSteps: false,
    })
  })

  it('walks calls, macros, lists, maps, conditionals and indexes', () => {
    const refs = references(
      "has(steps.a.output.x) ? size({'k': [steps.b.output]}[inputs.key]) : size(steps.c.output.filter(v, v > inputs.min))",
    )
    expect(refs.steps.map((s) => s.id)).toEqual(['a', 'b', 'c'])
    expect(refs.inputs).toEqual(['key', 'min'])
  })

  it('does not treat macro-bound names as scope variables', () => {
    expect(
      references(
        "size([{'x': 1}].map(steps, steps.x)) > 0 && [2].all(inputs, inputs > 0) && cel.bind(run, 1, run > 0)",
      ),
    ).toEqual({
      steps: [],
      inputs: [],
      run: [],
      dynamicSteps: false,
    })
    expect(references('cel.bind(x, steps.a.output, x.y)').steps).toEqual([{ id: 'a', field: 'output' }])
  })

  it('flags steps read without a literal id, and a step read without a field', () => {
    expect(references('size(steps) + 1').dynamicSteps).toBe(true)
    expect(references('steps[inputs.which].output').dynamicSteps).toBe(true)
    expect(references('steps.a').steps).toEqual([{ id: 'a', field: null }])
    expect(references('steps.a[inputs.f]').steps).toEqual([{ id: 'a', field: null }])
  })

  it('reports the type the checker infers', () => {
    expect(analyzeExpression('steps.a.output == 1', base)).toMatchObject({ ok: true, type: 'bool' })
    expect(analyzeExpression('[1, 2]', base)).toMatchObject({ ok: true, type: 'list<int>' })
    expect(analyzeExpression('index + 1', { item: true, event: false })).toMatchObject({ ok: true, type: 'int' })
    expect(analyzeExpression('index + 1', base)).toMatchObject({ ok: false, code: 'expression_type' })
  })
})
