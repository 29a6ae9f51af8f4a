import { describe, expect, it } from 'vitest'
import { ShiiooError } from '@shiioo/core'
import type { WorkflowDefinition } from '../src/index.js'
import { assertValidWorkflow, compileWorkflow, findCycles, topologicalOrder } from '../src/index.js'
import { workflowOf } from './helpers.js'

const compiled = (needs: Record<string, string[]>) => compileWorkflow(assertValidWorkflow(workflowOf(needs)).workflow)

describe('compileWorkflow', () => {
  it('orders steps after their dependencies, earliest-declared first among ready ones', () => {
    const dag = compiled({ d: ['b', 'c'], a: [], c: ['a'], b: ['a'], e: [] })
    expect(dag.order).toEqual(['a', 'c', 'b', 'd', 'e'])
    expect(dag.entries).toEqual(['a', 'e'])
    expect(dag.exits).toEqual(['d', 'e'])
  })

  it('gives each step its dependencies, dependents and ancestors', () => {
    const dag = compiled({ a: [], b: ['a'], c: ['a'], d: ['c', 'b'], e: ['d'] })
    expect(dag.steps.get('d')).toMatchObject({ index: 3, dependencies: ['c', 'b'], dependents: ['e'] })
    expect(dag.steps.get('a')!.dependents).toEqual(['b', 'c'])
    expect([...dag.steps.get('e')!.ancestors].sort()).toEqual(['a', 'b', 'c', 'd'])
    expect(dag.steps.get('a')!.ancestors.size).toBe(0)
    expect(dag.steps.get('e')!.step.kind).toBe('transform')
  })

  it('is deterministic', () => {
    const needs = { x: [], y: ['x'], z: ['x'], w: ['z', 'y'] }
    expect(compiled(needs).order).toEqual(compiled(needs).order)
  })

  it('refuses a graph that did not go through validation', () => {
    const { workflow } = assertValidWorkflow(workflowOf({ a: [], b: ['a'] }))
    const broken: WorkflowDefinition = {
      ...workflow,
      steps: workflow.steps.map((s) => ({ ...s, needs: s.id === 'a' ? ['b'] : ['a'] })),
    }
    expect(() => compileWorkflow(broken)).toThrow(ShiiooError)
    expect(() => compileWorkflow(broken)).toThrow('cannot compile workflow: cycle: a -> b -> a; validate it first')
  })
})

describe('graph helpers', () => {
  it('returns undefined order for a cyclic graph', () => {
    expect(
      topologicalOrder([
        { id: 'a', needs: ['b'] },
        { id: 'b', needs: ['a'] },
      ]),
    ).toBeUndefined()
  })

  it('handles a long chain without deep recursion', () => {
    const nodes = Array.from({ length: 20_000 }, (_, i) => ({
      id: `s${i}`,
      needs: i === 0 ? [`s${19_999}`] : [`s${i - 1}`],
    }))
    const cycles = findCycles(nodes)
    expect(cycles).toHaveLength(1)
    expect(cycles[0]).toHaveLength(20_000)
  })
})
