import type { CallerContext, EventView, Orchestrator, RunView } from '@shiioo/orchestrator'
import { toShiiooError } from '@shiioo/core'
import DataLoader from 'dataloader'

/** The services the schema calls: the orchestrator's, never a store. */
export type GraphQLServices = Pick<Orchestrator, 'runs' | 'workflows' | 'audit' | 'live' | 'identity' | 'tools'>

/**
 * Per operation: each run a query names more than once (a listing's details, each event of a
 * subscription's run) is read once. The services have no batch reads, so a batch is one read per
 * distinct run, in parallel.
 */
export interface Loaders {
  run: DataLoader<string, RunView>
  events: DataLoader<string, EventView[]>
}

/** What every resolver gets: who calls (authenticated by the edge) and the operation's loaders. */
export interface GraphQLContext {
  caller: CallerContext
  loaders: Loaders
}

function perRun<T>(read: (runId: string) => Promise<T>): DataLoader<string, T> {
  return new DataLoader<string, T>((runIds) =>
    Promise.all(runIds.map((runId) => read(runId).catch((error: unknown) => toShiiooError(error)))),
  )
}

export function createContext(services: GraphQLServices, caller: CallerContext): GraphQLContext {
  return {
    caller,
    loaders: {
      run: perRun((runId) => services.runs.get(caller, runId)),
      events: perRun((runId) => services.runs.events(caller, runId)),
    },
  }
}

/** Drops what the loaders read: a subscription's operation outlives each event, and each payload shows the run as it is then. */
export function forgetReads(ctx: GraphQLContext): void {
  ctx.loaders.run.clearAll()
  ctx.loaders.events.clearAll()
}
