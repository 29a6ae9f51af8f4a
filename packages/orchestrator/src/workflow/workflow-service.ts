import type { Engine } from '@shiioo/engine'
import type { CallerContext } from '../caller.js'
import { admit } from '../caller.js'
import type { WorkflowSource } from './source.js'
import { readWorkflowSource } from './source.js'

export interface RegisteredWorkflow {
  name: string
  hash: string
  /** False when this definition already was the current version of its name. */
  changed: boolean
}

export interface WorkflowListItem {
  name: string
  /** The current version: sub-workflow steps naming the workflow run this one. */
  hash: string
  versions: number
}

/** Workflow definitions by name (the `workflows` control stream), which sub-workflow steps resolve. */
export interface WorkflowService {
  register(caller: CallerContext, source: WorkflowSource): Promise<RegisteredWorkflow>
  list(caller: CallerContext): Promise<WorkflowListItem[]>
}

export function createWorkflowService(engine: Engine): WorkflowService {
  return {
    async register(caller, source) {
      admit(caller, 'workflow.register')
      const { workflow } = readWorkflowSource(source)
      const { hash, changed } = await engine.definitions.register(caller.tenant, workflow)
      return { name: workflow.name, hash, changed }
    },
    async list(caller) {
      admit(caller, 'workflow.list')
      const { versions } = await engine.definitions.versions(caller.tenant)
      return [...versions.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, hashes]) => ({ name, hash: hashes.at(-1)!, versions: new Set(hashes).size }))
    },
  }
}
