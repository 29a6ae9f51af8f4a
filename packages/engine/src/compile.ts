import { ShiiooError } from '@shiioo/core'
import type { GraphNode } from './graph.js'
import { ancestorSets, findCycles, topologicalOrder } from './graph.js'
import type { StepDefinition, WorkflowDefinition } from './schema.js'

export interface CompiledStep {
  readonly step: StepDefinition
  /** Position in the definition's steps list. */
  readonly index: number
  /** Steps this one needs, in the order of its needs list. */
  readonly dependencies: readonly string[]
  /** Steps that need this one, in topological order. */
  readonly dependents: readonly string[]
  /** Every step this one depends on, directly or transitively: the outputs it may read. */
  readonly ancestors: ReadonlySet<string>
}

/** A definition as a DAG the executor walks. Pure data, derived only from the definition. */
export interface CompiledWorkflow {
  readonly definition: WorkflowDefinition
  /** Every step id, each after all of its dependencies; ties broken by declaration order. */
  readonly order: readonly string[]
  /** Steps with no dependencies, in order. */
  readonly entries: readonly string[]
  /** Steps nothing depends on, in order. */
  readonly exits: readonly string[]
  readonly steps: ReadonlyMap<string, CompiledStep>
}

/**
 * Builds the DAG of a validated definition. Throws INVALID_INPUT if the graph is not one (a
 * definition that did not go through validateWorkflow).
 */
export function compileWorkflow(definition: WorkflowDefinition): CompiledWorkflow {
  const ids = new Set<string>()
  for (const step of definition.steps) {
    if (ids.has(step.id)) throw graphError(`duplicate step id "${step.id}"`)
    ids.add(step.id)
  }
  for (const step of definition.steps) {
    const unknown = step.needs.find((need) => !ids.has(need) || need === step.id)
    if (unknown !== undefined) throw graphError(`step "${step.id}" needs "${unknown}", which it cannot`)
  }
  const nodes: GraphNode[] = definition.steps.map((s) => ({ id: s.id, needs: s.needs }))
  const order = topologicalOrder(nodes)
  if (order === undefined) {
    const cycle = findCycles(nodes)[0] ?? []
    throw graphError(`cycle: ${[...cycle, cycle[0]].join(' -> ')}`)
  }
  const byId = new Map(definition.steps.map((s) => [s.id, s] as const))
  // Visiting steps in order fills each dependents list in topological order.
  const dependents = new Map<string, string[]>(order.map((id) => [id, []]))
  for (const id of order) {
    for (const need of new Set(byId.get(id)!.needs)) dependents.get(need)!.push(id)
  }
  const ancestors = ancestorSets(nodes, order)
  const steps = new Map<string, CompiledStep>()
  definition.steps.forEach((step, index) => {
    steps.set(step.id, {
      step,
      index,
      dependencies: [...new Set(step.needs)],
      dependents: dependents.get(step.id)!,
      ancestors: ancestors.get(step.id)!,
    })
  })
  const ordered = order.map((id) => steps.get(id)!)
  return {
    definition,
    order,
    entries: ordered.filter((s) => s.dependencies.length === 0).map((s) => s.step.id),
    exits: ordered.filter((s) => s.dependents.length === 0).map((s) => s.step.id),
    steps,
  }
}

function graphError(message: string): ShiiooError {
  return new ShiiooError('INVALID_INPUT', `cannot compile workflow: ${message}; validate it first`)
}
