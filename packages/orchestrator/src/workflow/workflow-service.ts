import type { Engine } from '@shiioo/engine'
import type { CallerContext, Gate } from '../caller.js'
import type { RegisteredWorkflowView, WorkflowView } from '../views/workflow.js'
import { toWorkflowViews } from '../views/workflow.js'
import type { WorkflowSource } from './source.js'
import { readWorkflowSource } from './source.js'

/** Workflow definitions by name (the `workflows` control stream), which sub-workflow steps resolve. */
export interface WorkflowService {
  /** Makes the definition the current version of its name. */
  register(caller: CallerContext, source: WorkflowSource): Promise<RegisteredWorkflowView>
  list(caller: CallerContext): Promise<WorkflowView[]>
}

export function createWorkflowService(engine: Engine, gate: Gate): WorkflowService {
  return {
    async register(caller, source) {
      const { workflow } = readWorkflowSource(source)
      gate(caller, 'workflow.register', { kind: 'workflow', name: workflow.name })
      const { hash, changed } = await engine.definitions.register(caller.tenant, workflow)
      return { name: workflow.name, hash, changed }
    },
    async list(caller) {
      gate(caller, 'workflow.list', { kind: 'tenant' })
      const { versions } = await engine.definitions.versions(caller.tenant)
      return toWorkflowViews(versions)
    },
  }
}
