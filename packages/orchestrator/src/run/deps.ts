import type { BlobStore, EventLog, IndexStore, Logger, RunId, TenantId } from '@shiioo/core'
import { ShiiooError, isShiiooError } from '@shiioo/core'
import type { Engine, WorkflowDefinition } from '@shiioo/engine'
import type { Door } from '../audit/door.js'
import type { IndexFeed } from '../index-feed.js'

export interface RunServiceDeps {
  engine: Engine
  log: EventLog
  blobs: BlobStore
  index: IndexStore
  feed: IndexFeed
  logger: Logger
  door: Door
}

/** Why a run's definition cannot be used: its blob is not stored, or it is but its content was altered. */
export type DefinitionProblem = 'not-stored' | 'damaged'

/** The run's definition, or why it cannot be had (the run's events still can). */
export async function definitionOf(
  engine: Engine,
  tenant: TenantId,
  hash: string,
): Promise<{ definition: WorkflowDefinition | null; problem: DefinitionProblem | null }> {
  try {
    return { definition: (await engine.definitions.get(tenant, hash)).definition, problem: null }
  } catch (error) {
    const problem = definitionProblem(error)
    if (problem === null) throw error
    return { definition: null, problem }
  }
}

function definitionProblem(error: unknown): DefinitionProblem | null {
  if (!isShiiooError(error)) return null
  if (error.code === 'NOT_FOUND') return 'not-stored'
  if (error.code === 'DATA_CORRUPTED' && error.details.damagedDefinition !== undefined) return 'damaged'
  return null
}

/**
 * Runs `act` (which needs the run's definition); when it fails because the definition is not
 * stored or is damaged, says so in words that name what is wrong and what still works.
 */
export async function needingDefinition<T>(
  engine: Engine,
  target: { tenant: TenantId; runId: RunId; what: string },
  act: () => Promise<T>,
): Promise<T> {
  try {
    return await act()
  } catch (error) {
    if (definitionProblem(error) === null) throw error
    const { tenant, runId, what } = target
    const state = await engine.state(tenant, runId).catch(() => null)
    if (state === null) throw error
    const { problem } = await definitionOf(engine, tenant, state.workflow.hash)
    if (problem === null) throw error
    const { name, hash } = state.workflow
    const still = 'the run can still be inspected from its events, but not continued, replayed or forked without it'
    if (problem === 'damaged') {
      throw new ShiiooError(
        'DATA_CORRUPTED',
        `cannot ${what} run ${runId}: its workflow definition "${name}" is damaged in tenant ${tenant} ` +
          `(${String((error as ShiiooError).details.reason)}); ${still}; \`shiioo verify\` lists every damaged blob`,
        { cause: error, details: { damagedDefinition: hash } },
      )
    }
    throw new ShiiooError(
      'NOT_FOUND',
      `cannot ${what} run ${runId}: its workflow definition "${name}" (${hash}) is not stored in tenant ${tenant}; ${still}`,
      { cause: error, details: { missingDefinition: hash } },
    )
  }
}
