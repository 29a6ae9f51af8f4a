import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileWorkflow, validateWorkflow } from '../src/index.js'

interface Dag {
  /** Step ids in declaration order (a shuffle, so not necessarily topological). */
  readonly order: string[]
  /** needs per step id; step sK only ever needs sJ with J < K, so the graph is acyclic. */
  readonly needs: Map<string, string[]>
}

const dagArbitrary: fc.Arbitrary<Dag> = fc
  .integer({ min: 1, max: 60 })
  .chain((n) =>
    fc.tuple(
      fc.tuple(
        ...Array.from({ length: n }, (_, k) =>
          fc.subarray(
            Array.from({ length: k }, (_, j) => j),
            { maxLength: Math.min(6, k) },
          ),
        ),
      ),
      fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => i),
        { minLength: n, maxLength: n },
      ),
    ),
  )
  .map(([needs, order]) => ({
    order: order.map((i) => `s${i}`),
    needs: new Map(needs.map((deps, k) => [`s${k}`, deps.map((j) => `s${j}`)])),
  }))

function definitionOf(dag: Dag) {
  return {
    name: 'random-dag',
    steps: dag.order.map((id) => {
      const deps = dag.needs.get(id)!
      // Each step reads the outputs of what it needs, so the ancestor check runs on every edge.
      const output = deps.length === 0 ? id : `\${{ [${deps.map((d) => `steps.${d}.output`).join(', ')}] }}`
      return { id, kind: 'transform', needs: deps, output }
    }),
  }
}

describe('random DAGs', () => {
  it('validate and compile with every step after its dependencies', () => {
    fc.assert(
      fc.property(dagArbitrary, (dag) => {
        const result = validateWorkflow(definitionOf(dag))
        if (!result.ok) throw new Error(JSON.stringify(result.errors))
        const compiled = compileWorkflow(result.workflow)
        expect([...compiled.order].sort()).toEqual([...dag.order].sort())
        const position = new Map(compiled.order.map((id, i) => [id, i]))
        for (const [id, deps] of dag.needs) {
          for (const dep of deps) expect(position.get(dep)!).toBeLessThan(position.get(id)!)
          expect(compiled.steps.get(id)!.dependencies).toEqual(deps)
        }
        expect(compiled.entries).toEqual(compiled.order.filter((id) => dag.needs.get(id)!.length === 0))
      }),
      { numRuns: 200 },
    )
  })

  it('with one back edge added, report a cycle whose printed path is a real cycle', () => {
    fc.assert(
      fc.property(dagArbitrary, fc.nat(), (dag, pick) => {
        const edges = [...dag.needs].flatMap(([id, deps]) => deps.map((dep) => [id, dep] as const))
        fc.pre(edges.length > 0)
        // id needs dep, so dep needing id closes a cycle.
        const [id, dep] = edges[pick % edges.length]!
        const needs = new Map([...dag.needs].map(([k, v]) => [k, [...v]]))
        needs.get(dep)!.push(id)
        const result = validateWorkflow({
          name: 'cyclic',
          steps: dag.order.map((s) => ({ id: s, kind: 'transform', needs: needs.get(s)!, output: 1 })),
        })
        if (result.ok) throw new Error('a graph with a back edge validated')
        const cycles = result.errors.filter((e) => e.code === 'cycle')
        expect(cycles).toHaveLength(1)
        expect(result.errors).toEqual(cycles)
        const match = /^cycle: (.+) \(each step needs the next, so none of them can start\)$/.exec(cycles[0]!.message)
        expect(match).not.toBeNull()
        const path = match![1]!.split(' -> ')
        expect(path[0]).toBe(path[path.length - 1])
        expect(new Set(path.slice(0, -1)).size).toBe(path.length - 1)
        for (let i = 0; i + 1 < path.length; i++) expect(needs.get(path[i]!)).toContain(path[i + 1])
        // The error points at the first edge of the printed cycle.
        const first = dag.order.indexOf(path[0]!)
        expect(cycles[0]!.path).toBe(`steps[${first}].needs[${needs.get(path[0]!)!.indexOf(path[1]!)}]`)
      }),
      { numRuns: 200 },
    )
  })
})
