import type { TenantId } from '@shiioo/core'
import { ShiiooError, toShiiooError } from '@shiioo/core'
import type { Engine, ForeachBody, StepDefinition, ValidWorkflow, WorkflowDefinition } from '@shiioo/engine'
import { formatValidationErrors, resolveRunInputs } from '@shiioo/engine'
import type { WorkflowSource } from '../workflow/source.js'
import { readWorkflowSource } from '../workflow/source.js'

export interface PreparedStart {
  main: ValidWorkflow
  /** Workflows to register before the main one, in order. */
  others: ValidWorkflow[]
  warnings: string[]
}

/**
 * Checks everything a start of `main` needs before anything is written: its input, the extra
 * workflows (an unusable one is dropped with a warning), and every sub-workflow the run could
 * start, transitively, so a run is never started only to fail on a missing child.
 */
export async function prepareStart(
  engine: Engine,
  tenant: TenantId,
  main: ValidWorkflow,
  command: { input?: Readonly<Record<string, unknown>>; workflows?: readonly WorkflowSource[] },
): Promise<PreparedStart> {
  const inputs = resolveRunInputs(main.workflow, command.input ?? {})
  if (!inputs.ok) {
    throw new ShiiooError('INVALID_INPUT', `bad run input:\n${formatValidationErrors(inputs.errors)}`, {
      details: { errors: inputs.errors },
    })
  }
  const workflows = command.workflows ?? []
  const warnings: string[] = []
  const byName = new Map<string, { valid: ValidWorkflow; origin: string }>()
  for (const [i, w] of workflows.entries()) {
    const origin = w.origin ?? `workflows[${i}]`
    let valid: ValidWorkflow
    try {
      valid = readWorkflowSource(w)
    } catch (error) {
      const first = toShiiooError(error).message.split('\n')
      warnings.push(`${origin} left out: ${first.slice(0, 3).join(' ').replace(/\s+/g, ' ')}`)
      continue
    }
    const name = valid.workflow.name
    if (name === main.workflow.name) {
      if (valid.hash !== main.hash) warnings.push(`${origin} left out: the started workflow is also named "${name}"`)
      continue
    }
    const earlier = byName.get(name)
    if (earlier && earlier.valid.hash !== valid.hash) {
      warnings.push(`${earlier.origin} left out: ${origin} also defines workflow "${name}"`)
    }
    byName.set(name, { valid, origin })
  }
  const others = [...byName.values()].map((o) => o.valid)
  await checkChildren(engine, tenant, [...others, main])
  return { main, others, warnings }
}

function childSteps(definition: WorkflowDefinition): Array<{ stepId: string; workflow: string; hash?: string }> {
  const out: Array<{ stepId: string; workflow: string; hash?: string }> = []
  const visit = (stepId: string, step: StepDefinition | ForeachBody) => {
    if (step.kind === 'foreach') visit(stepId, step.step)
    else if (step.kind === 'subworkflow') {
      out.push({ stepId, workflow: step.workflow, ...(step.workflowHash ? { hash: step.workflowHash } : {}) })
    }
  }
  for (const step of definition.steps) visit(step.id, step)
  return out
}

/** Every sub-workflow reachable from `pending` resolves: among `pending` itself or the registered ones. */
async function checkChildren(engine: Engine, tenant: TenantId, pending: readonly ValidWorkflow[]): Promise<void> {
  const main = pending.at(-1)!
  if (childSteps(main.workflow).length === 0) return
  const { versions } = await engine.definitions.versions(tenant)
  const local = new Map(pending.map((p) => [p.workflow.name, p]))
  const seen = new Set<string>()
  const queue: WorkflowDefinition[] = [main.workflow]
  while (queue.length > 0) {
    const definition = queue.shift()!
    for (const child of childSteps(definition)) {
      const key = `${child.workflow}@${child.hash ?? ''}`
      if (seen.has(key)) continue
      seen.add(key)
      const mine = local.get(child.workflow)
      if (mine && (child.hash === undefined || child.hash === mine.hash)) {
        queue.push(mine.workflow)
        continue
      }
      const known = versions.get(child.workflow) ?? []
      const hash = child.hash ?? known.at(-1)
      if (hash === undefined || !known.includes(hash)) {
        const names = [...new Set([...versions.keys(), ...local.keys()])].sort()
        const what = child.hash === undefined ? `"${child.workflow}"` : `"${child.workflow}" version ${child.hash}`
        throw new ShiiooError(
          'INVALID_INPUT',
          `step "${child.stepId}" of workflow "${definition.name}" runs workflow ${what}, which is not registered` +
            ` (known: ${names.join(', ') || 'none'}); register it first or put its file next to the started one`,
          { details: { field: `steps.${child.stepId}.workflow` } },
        )
      }
      queue.push((await engine.definitions.get(tenant, hash)).definition)
    }
  }
}
