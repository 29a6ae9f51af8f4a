import type { GraphNode } from './graph.js'
import { ancestorSets, findCycles, longestChain, topologicalOrder } from './graph.js'
import type { ValidationLimits } from './limits.js'
import { valueAt } from './structure.js'
import type { ValidationError } from './validation-errors.js'
import { didYouMean, formatPath, listNames } from './validation-errors.js'

export interface GraphCheck {
  readonly errors: ValidationError[]
  /** Steps with a readable id, in declaration order. */
  readonly ids: readonly string[]
  /** Each step's ancestors, when the graph is sound (unique ids, known needs, no cycles). */
  readonly ancestors: ReadonlyMap<string, ReadonlySet<string>> | undefined
}

interface RawStep {
  readonly index: number
  readonly id: string
  readonly needs: readonly { readonly id: string; readonly index: number }[]
}

/**
 * Checks the dependency graph: duplicate ids, unknown and repeated needs, self-dependencies,
 * cycles, and the steps, needs and depth limits. It reads the raw input, so these problems are
 * reported even when other fields of a step are wrong.
 */
export function checkGraph(root: unknown, limits: ValidationLimits): GraphCheck {
  const rawSteps = valueAt(root, ['steps'])
  if (!Array.isArray(rawSteps)) return { errors: [], ids: [], ancestors: undefined }
  if (rawSteps.length > limits.maxSteps) {
    return {
      errors: [
        {
          path: 'steps',
          code: 'limit_exceeded',
          message: `the workflow has ${rawSteps.length} steps, over the limit maxSteps (${limits.maxSteps})`,
        },
      ],
      ids: [],
      ancestors: undefined,
    }
  }
  const steps = readSteps(rawSteps)
  const errors: ValidationError[] = []
  let sound = true
  const firstIndex = new Map<string, number>()
  for (const step of steps) {
    const first = firstIndex.get(step.id)
    if (first === undefined) {
      firstIndex.set(step.id, step.index)
      continue
    }
    sound = false
    errors.push({
      path: formatPath(['steps', step.index, 'id']),
      code: 'duplicate_id',
      message: `duplicate step id "${step.id}": steps[${first}] and steps[${step.index}] both use it`,
    })
  }
  const ids = [...firstIndex.keys()]
  for (const step of steps) {
    const rawNeeds = valueAt(rawSteps, [step.index, 'needs'])
    if (Array.isArray(rawNeeds) && rawNeeds.length > limits.maxNeedsPerStep) {
      errors.push({
        path: formatPath(['steps', step.index, 'needs']),
        code: 'limit_exceeded',
        message: `step "${step.id}" needs ${rawNeeds.length} steps, over the limit maxNeedsPerStep (${limits.maxNeedsPerStep})`,
      })
    }
    const seen = new Map<string, number>()
    for (const need of step.needs) {
      const path = formatPath(['steps', step.index, 'needs', need.index])
      const earlier = seen.get(need.id)
      if (earlier !== undefined) {
        errors.push({
          path,
          code: 'duplicate_need',
          message: `step "${step.id}" lists "${need.id}" twice in needs (needs[${earlier}] and needs[${need.index}])`,
        })
        continue
      }
      seen.set(need.id, need.index)
      if (need.id === step.id) {
        sound = false
        errors.push({ path, code: 'self_dependency', message: `step "${step.id}" needs itself` })
      } else if (!firstIndex.has(need.id)) {
        sound = false
        const hint = didYouMean(need.id, ids)
        errors.push({
          path,
          code: 'unknown_need',
          message:
            `step "${step.id}" needs "${need.id}", which is not a step of this workflow` +
            (hint === '' ? `; the steps are: ${listNames(ids)}` : hint),
        })
      }
    }
  }
  const nodes: GraphNode[] = steps.map((s) => ({ id: s.id, needs: s.needs.map((n) => n.id) }))
  for (const cycle of findCycles(nodes)) {
    sound = false
    const start = steps.find((s) => s.id === cycle[0])!
    const next = start.needs.find((n) => n.id === cycle[1])!
    errors.push({
      path: formatPath(['steps', start.index, 'needs', next.index]),
      code: 'cycle',
      message: `cycle: ${[...cycle, cycle[0]].join(' -> ')} (each step needs the next, so none of them can start)`,
    })
  }
  if (!sound || steps.length !== rawSteps.length) return { errors, ids, ancestors: undefined }
  const order = topologicalOrder(nodes)!
  const chain = longestChain(nodes, order)
  if (chain.length > limits.maxDepth) {
    errors.push({
      path: 'steps',
      code: 'limit_exceeded',
      message: `the longest chain of dependent steps has ${chain.length} steps (${abbreviate(chain)}), over the limit maxDepth (${limits.maxDepth})`,
    })
  }
  return { errors, ids, ancestors: ancestorSets(nodes, order) }
}

/** Steps whose id is a string; needs entries that are strings, with their positions. */
function readSteps(rawSteps: readonly unknown[]): RawStep[] {
  const out: RawStep[] = []
  rawSteps.forEach((raw, index) => {
    const id = valueAt(raw, ['id'])
    if (typeof id !== 'string') return
    const rawNeeds = valueAt(raw, ['needs'])
    const needs = Array.isArray(rawNeeds)
      ? rawNeeds.flatMap((n, i) => (typeof n === 'string' ? [{ id: n, index: i }] : []))
      : []
    out.push({ index, id, needs })
  })
  return out
}

function abbreviate(chain: readonly string[]): string {
  if (chain.length <= 6) return chain.join(' -> ')
  return `${chain.slice(0, 3).join(' -> ')} -> ... -> ${chain.slice(-2).join(' -> ')}`
}
