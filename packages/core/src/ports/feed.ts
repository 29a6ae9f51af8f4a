import type { StoredEvent } from '../events/envelope.js'
import type { EventType } from '../events/catalog.js'
import type { Brand, StreamId, TenantId } from '../ids.js'

/**
 * Where an event stands in the feed: opaque, stable across restarts, and ordered: two positions of
 * one feed compare as plain strings in feed order (so a store can keep the greater of two). A
 * position is only ever handed out for an event the feed holds.
 */
export type FeedPosition = Brand<string, 'FeedPosition'>

/**
 * Where a subscription starts: after a position (resuming: no gap, no duplicate), at the oldest
 * event the feed still holds (`'start'`), or with what is appended from the call on (`'now'`,
 * fixed when `subscribe` is called, not when iteration begins).
 */
export type FeedStart = FeedPosition | 'start' | 'now'

export type StreamKind = 'run' | 'control'

export interface FeedFilter {
  /**
   * One tenant's events only. Absent: every tenant's, for internal consumers (the engine, the
   * index); an edge always passes its caller's tenant.
   */
  tenant?: TenantId
  /** Only these streams (of `tenant`, or of any tenant when it is absent). */
  streams?: readonly StreamId[]
  kinds?: readonly StreamKind[]
}

export interface FeedRequest extends FeedFilter {
  /** Only events of these types (positions still advance past the others). */
  types?: readonly EventType[]
  after: FeedStart
  /** Most events per batch (default 512). */
  limit?: number
}

export interface CommitRequest extends FeedFilter {
  after: FeedStart
  /** Most commits per batch (default 512). */
  limit?: number
}

export interface FeedEvent {
  position: FeedPosition
  event: StoredEvent
}

/** Events in feed order; each batch holds at least one. */
export type FeedBatch = readonly FeedEvent[]

/** One durable append to one stream, without its events: for consumers that only need to know what moved. */
export interface FeedCommit {
  /** The position of the commit's last event (resume after it to skip the whole commit). */
  position: FeedPosition
  tenant: TenantId
  stream: StreamId
  firstSeq: number
  lastSeq: number
}

/**
 * Every durable event of a data dir (of a cluster, on Postgres) in one global order, appends of
 * other processes included. Delivery is pulled: a consumer gets its next batch when it asks for
 * it, so a slow one holds nothing but its place (an adapter keeps a bounded window of recent
 * events and reads older ones back from storage). Per stream, events arrive in seq order.
 *
 * A position the feed no longer holds, because it is older than the feed's retention or was lost
 * in a machine crash, is refused with `GONE` (the consumer re-syncs from the streams), never
 * skipped silently; a malformed one with `INVALID_INPUT`. Both are thrown by the iterator's first
 * `next()` (a consumer that falls behind the retention while reading gets `GONE` later); bad
 * filters are refused by the call itself. Aborting `signal` ends the iteration (no error).
 */
export interface EventFeed {
  subscribe(request: FeedRequest, signal: AbortSignal): AsyncIterable<FeedBatch>
  /** The same order, one entry per commit and no event bodies: what moved where (the engine's wake-ups). */
  commits(request: CommitRequest, signal: AbortSignal): AsyncIterable<readonly FeedCommit[]>
  /** The position of the last event the feed holds (subscribing after it equals `'now'`). */
  head(): Promise<FeedPosition>
}
