import type { BlobStore, EventLog, IndexStore, Logger, RunId, TenantId } from '@shiioo/core'
import { ShiiooError, isShiiooError } from '@shiioo/core'
import type { Engine, WorkflowDefinition } from '@shiioo/engine'
import type { Gate } from '../caller.js'
import type { IndexFeed } from '../index-feed.js'

export interface RunServiceDeps {
  engine: Engine
  log: EventLog
  blobs: BlobStore
  index: IndexStore
  feed: IndexFeed
  logger: Logger
  gate: Gate
}

/** The run's definition, or null when its blob is not stored (the run's events still are). */
export async function definitionOf(engine: Engine, tenant: TenantId, hash: string): Promise<WorkflowDefinition | null> {
  try {
    return (await engine.definitions.get(tenant, hash)).definition
  } catch (error) {
    if (isShiiooError(error) && error.code === 'NOT_FOUND') return null
    throw error
  }
}

/**
 * Runs `act` (which needs the run's definition); when it fails with NOT_FOUND because the
 * definition is not stored, says so in words that name what is missing and what still works.
 */
export async function needingDefinition<T>(
  engine: Engine,
  target: { tenant: TenantId; runId: RunId; what: string },
  act: () => Promise<T>,
): Promise<T> {
  try {
    return await act()
  } catch (error) {
    if (!isShiiooError(error) || error.code !== 'NOT_FOUND') throw error
    const { tenant, runId, what } = target
    const state = await engine.state(tenant, runId).catch(() => null)
    if (state === null || (await definitionOf(engine, tenant, state.workflow.hash)) !== null) throw error
    throw new ShiiooError(
      'NOT_FOUND',
      `cannot ${what} run ${runId}: its workflow definition "${state.workflow.name}" (${state.workflow.hash}) ` +
        `is not stored in tenant ${tenant}; the run can still be inspected from its events, but not continued, replayed or forked without it`,
      { cause: error, details: { missingDefinition: state.workflow.hash } },
    )
  }
}
