import type { StoredEvent } from '../events/envelope.js'
import type { StreamId, TenantId } from '../ids.js'
import type { ProjectedRows, ProjectionRow } from '../ports/index-store.js'

/**
 * A read model of control streams, kept in the index (`IndexStore.rows`): the feature that owns
 * the streams' events declares it (workflows today; identity, audit, approvals, budgets and
 * routines as they arrive) and the projector folds every stream it accepts, live, on catch-up and
 * on rebuild, with the same code. Control streams are short: a stream is folded whole each time
 * it changes, and its rows replace the ones it had.
 */
export interface ControlProjection<S = unknown> {
  /** Names its rows in the index. */
  readonly name: string
  /** Whether it folds this control stream. */
  accepts(stream: StreamId): boolean
  /** The stream's state from its events (from its first one); pure, and the feature's one fold of them. */
  fold(events: readonly StoredEvent[]): S
  /** The rows the state puts in the index. */
  rows(state: S): ProjectionRow[]
}

/** What each projection that accepts the stream makes of its whole history. */
export function projectControlStream(
  projections: readonly ControlProjection[],
  tenant: TenantId,
  stream: StreamId,
  events: readonly StoredEvent[],
): ProjectedRows[] {
  const version = events.at(-1)?.seq ?? 0
  return projections
    .filter((p) => p.accepts(stream))
    .map((p) => ({ projection: p.name, tenant, stream, version, rows: p.rows(p.fold(events)) }))
}
