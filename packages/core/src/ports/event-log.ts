import type { NewEvent, StoredEvent } from '../events/envelope.js'
import type { StreamId, TenantId } from '../ids.js'
import type { LeaseGrant } from './leases.js'
import type { EventFeed } from './feed.js'

/**
 * `number`: the stream must be at exactly this version (0 = must not exist yet).
 * `'any'`: append wherever the stream is (used by writers that cannot conflict by design).
 */
export type ExpectedVersion = number | 'any'

export interface AppendRequest {
  tenant: TenantId
  stream: StreamId
  expectedVersion: ExpectedVersion
  events: readonly NewEvent[]
  /**
   * The lease the writer holds over this stream (a run's driver holds the run's): the append is
   * refused with LEASE_LOST once the lease is no longer current, so a holder that was paused past
   * its TTL and taken over cannot write. Writers that do not drive the stream (a decision, a
   * signal) append without one, guarded by `expectedVersion`. A lease from another store is refused.
   */
  lease?: LeaseGrant
  signal?: AbortSignal
}

export interface AppendResult {
  /** Sequence number of the first and last event of this append. */
  firstSeq: number
  lastSeq: number
  /** True when every event id was already in the stream: nothing was written. */
  duplicate: boolean
}

export interface ReadRequest {
  tenant: TenantId
  stream: StreamId
  /** First sequence number to return (default 1). */
  fromSeq?: number
  /** Last sequence number to return (default: the end). */
  toSeq?: number
  /**
   * `'full'` (default): every event's envelope and data are checked against the catalog.
   * `'checksum'`: an adapter that checksums what it stores (the filesystem log: CRC32 per commit)
   * may skip the data schema check for current-version events, which it validated when they were
   * appended; envelopes are still checked. For bulk readers such as index rebuilds; `shiioo verify`
   * always reads in full.
   */
  validation?: 'full' | 'checksum'
  signal?: AbortSignal
}

export interface StreamInfo {
  tenant: TenantId
  stream: StreamId
  /** Changes whenever the stream changes; lets a projection skip streams it has fully seen. */
  token: string
}

export interface ListStreamsRequest {
  /** Only this tenant's streams; all tenants when absent. */
  tenant?: TenantId
  kind?: 'run' | 'control'
  signal?: AbortSignal
}

/**
 * Called after events are durable, in append order per stream: this process's appends only, with
 * no position. For anything that must also see other processes' appends or resume, use `feed`.
 */
export type AppendListener = (events: readonly StoredEvent[]) => void

/**
 * The event log: the source of truth. An append resolves only once its events are durable;
 * appends to a stream are ordered and checked against the expected version; event ids make a
 * repeated append idempotent.
 */
export interface EventLog {
  append(request: AppendRequest): Promise<AppendResult>
  read(request: ReadRequest): Promise<StoredEvent[]>
  /** The stream's current version (its last seq), 0 when it does not exist. */
  version(request: { tenant: TenantId; stream: StreamId }): Promise<number>
  listStreams(request?: ListStreamsRequest): AsyncIterable<StreamInfo>
  /** Every durable event of the log's storage, from every process, in one order (see EventFeed). */
  readonly feed: EventFeed
  subscribe(listener: AppendListener): () => void
  close(): Promise<void>
}
