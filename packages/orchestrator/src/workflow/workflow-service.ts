import type { IndexStore, Json } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import type { Engine } from '@shiioo/engine'
import { WORKFLOW_HASH, WORKFLOW_NAME, workflowsProjection } from '@shiioo/engine'
import type { IndexFeed } from '../index-feed.js'
import type { Door } from '../audit/door.js'
import type { CallerContext } from '../caller.js'
import type { RegisteredWorkflowView, WorkflowDetailView, WorkflowView } from '../views/workflow.js'
import { toWorkflowViews } from '../views/workflow.js'
import type { WorkflowSource } from './source.js'
import { readWorkflowSource } from './source.js'

/** Workflow definitions by name (the `workflows` control stream), which sub-workflow steps resolve. */
export interface WorkflowService {
  /** Makes the definition the current version of its name. */
  register(caller: CallerContext, source: WorkflowSource): Promise<RegisteredWorkflowView>
  list(caller: CallerContext): Promise<WorkflowView[]>
  /** One name's versions and a definition: the current one, or the version `hash` names. */
  get(caller: CallerContext, name: string, hash?: string): Promise<WorkflowDetailView>
}

export interface WorkflowServiceDeps {
  engine: Engine
  door: Door
  index: IndexStore
  feed: IndexFeed
  /** Whether the index holds the workflows' read model (its projector folds the `workflows` stream). */
  indexed: boolean
}

export function createWorkflowService(deps: WorkflowServiceDeps): WorkflowService {
  const { engine, door, index, feed } = deps
  return {
    async register(caller, source) {
      const { workflow } = readWorkflowSource(source)
      return door.change(
        caller,
        'workflow.register',
        { kind: 'workflow', name: workflow.name },
        async () => {
          const { hash, changed } = await engine.definitions.register(caller.tenant, workflow)
          return { name: workflow.name, hash, changed }
        },
        { result: (r) => ({ hash: r.hash, changed: r.changed }) },
      )
    },
    async list(caller) {
      door.admit(caller, 'workflow.list', { kind: 'tenant' })
      if (!deps.indexed) return toWorkflowViews((await engine.definitions.versions(caller.tenant)).versions)
      await feed.current()
      const rows = await index.rows({ projection: workflowsProjection.name, tenant: caller.tenant })
      return toWorkflowViews(new Map(rows.map((r) => [r.key, (r.data as { hashes: string[] }).hashes])))
    },
    async get(caller, name, hash) {
      if (!WORKFLOW_NAME.test(name)) {
        throw new ShiiooError('INVALID_INPUT', `name must be a workflow name, not "${name.slice(0, 100)}"`, {
          details: { field: 'name' },
        })
      }
      if (hash !== undefined && !WORKFLOW_HASH.test(hash)) {
        throw new ShiiooError('INVALID_INPUT', 'hash must be 64 lowercase hex characters', {
          details: { field: 'hash' },
        })
      }
      door.admit(caller, 'workflow.read', { kind: 'workflow', name })
      // the versions of one name come from its control stream, which resolve reads anyway
      const { versions } = await engine.definitions.versions(caller.tenant)
      const compiled = await engine.definitions.resolve(caller.tenant, name, hash)
      const [view] = toWorkflowViews(new Map([[name, versions.get(name) ?? []]]))
      return { ...view!, definitionHash: hash ?? view!.hash, definition: compiled.definition as unknown as Json }
    },
  }
}
