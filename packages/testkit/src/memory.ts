import { createHash } from 'node:crypto'
import type {
  AppendListener,
  AppendRequest,
  AppendResult,
  BlobStore,
  EventLog,
  ListStreamsRequest,
  PutBlobResult,
  ReadRequest,
  StoredEvent,
  StreamId,
  StreamInfo,
  TenantId,
} from '@shiioo/core'
import { ShiiooError, parseBlobKey, parseStreamId, parseTenantId, streamKind, validateNewEvent } from '@shiioo/core'
import { MemoryLeaseGrant } from './memory-leases.js'
import { MemoryFeed } from './memory-feed.js'

/**
 * In-memory adapters for tests of code above the ports. They pass the same conformance suites as
 * the real adapters; nothing in the product uses them (state lost on restart is not state).
 */
export class MemoryEventLog implements EventLog {
  private readonly streams = new Map<
    string,
    { tenant: TenantId; stream: StreamId; events: StoredEvent[]; fps: Map<string, string> }
  >()
  private readonly listeners = new Set<AppendListener>()
  private changes = 0
  readonly feed = new MemoryFeed()

  async append(request: AppendRequest): Promise<AppendResult> {
    const tenant = parseTenantId(request.tenant)
    const stream = parseStreamId(request.stream)
    if (!Array.isArray(request.events) || request.events.length === 0)
      throw new ShiiooError('INVALID_INPUT', 'events must be a non-empty array')
    const ev = request.expectedVersion
    if (ev !== 'any' && (!Number.isInteger(ev) || ev < 0)) throw new ShiiooError('INVALID_INPUT', 'bad expectedVersion')
    if (request.lease !== undefined && !(request.lease instanceof MemoryLeaseGrant))
      throw new ShiiooError('INVALID_INPUT', "an append's lease must come from the same store")
    if (request.lease !== undefined && request.lease.tenant !== tenant)
      throw new ShiiooError('INVALID_INPUT', `the lease is of tenant ${request.lease.tenant}, not ${tenant}`)
    const seen = new Set<string>()
    const events = request.events.map((e, i) => {
      const v = validateNewEvent(e, i)
      if (seen.has(v.id)) throw new ShiiooError('INVALID_INPUT', `events[${i}].id appears twice`)
      seen.add(v.id)
      return v
    })
    const key = `${tenant}/${stream}`
    const s = this.streams.get(key) ?? { tenant, stream, events: [], fps: new Map<string, string>() }
    const known = events.map((e) => s.events.find((x) => x.id === e.id))
    if (known.every((k) => k !== undefined)) {
      const first = known[0]!.seq
      if (events.every((e, i) => known[i]!.seq === first + i && s.fps.get(e.id) === e.type + JSON.stringify(e.data))) {
        return { firstSeq: first, lastSeq: first + events.length - 1, duplicate: true }
      }
      throw new ShiiooError('CONFLICT', 'event ids reused with different content')
    }
    if (known.some((k) => k !== undefined)) throw new ShiiooError('CONFLICT', 'some event ids were appended before')
    if (request.lease instanceof MemoryLeaseGrant && !request.lease.current)
      throw new ShiiooError('LEASE_LOST', `the lease on ${request.lease.name} is no longer held`)
    if (ev !== 'any' && ev !== s.events.length)
      throw new ShiiooError('CONFLICT', `stream is at version ${s.events.length}, expected ${ev}`)
    const stored = events.map((e, i) => ({ ...e, stream, tenant, seq: s.events.length + i + 1 }))
    for (const e of stored) s.fps.set(e.id, e.type + JSON.stringify(e.data))
    s.events.push(...stored)
    this.streams.set(key, s)
    this.changes++
    this.feed.add(stored)
    for (const l of this.listeners) l(stored)
    return { firstSeq: stored[0]!.seq, lastSeq: stored.at(-1)!.seq, duplicate: false }
  }

  async read(request: ReadRequest): Promise<StoredEvent[]> {
    const s = this.streams.get(`${parseTenantId(request.tenant)}/${parseStreamId(request.stream)}`)
    const from = request.fromSeq ?? 1
    const to = request.toSeq ?? Number.MAX_SAFE_INTEGER
    return (s?.events ?? []).filter((e) => e.seq >= from && e.seq <= to)
  }

  async version(request: { tenant: TenantId; stream: StreamId }): Promise<number> {
    return this.streams.get(`${parseTenantId(request.tenant)}/${parseStreamId(request.stream)}`)?.events.length ?? 0
  }

  async *listStreams(request: ListStreamsRequest = {}): AsyncIterable<StreamInfo> {
    for (const s of this.streams.values()) {
      if (request.tenant && s.tenant !== request.tenant) continue
      if (request.kind && streamKind(s.stream) !== request.kind) continue
      yield { tenant: s.tenant, stream: s.stream, token: `${s.events.length}:${s.events.at(-1)?.id ?? ''}` }
    }
  }

  subscribe(listener: AppendListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  async close(): Promise<void> {}
}

export class MemoryBlobStore implements BlobStore {
  readonly data = new Map<string, Uint8Array>()

  async put(request: { tenant: TenantId; data: Uint8Array }): Promise<PutBlobResult> {
    const tenant = parseTenantId(request.tenant)
    const key = createHash('sha256').update(request.data).digest('hex')
    const created = !this.data.has(`${tenant}/${key}`)
    if (created) this.data.set(`${tenant}/${key}`, Uint8Array.from(request.data))
    return { key, size: request.data.byteLength, created }
  }

  async get(request: { tenant: TenantId; key: string }): Promise<Uint8Array> {
    const key = parseBlobKey(request.key)
    const bytes = this.data.get(`${parseTenantId(request.tenant)}/${key}`)
    if (!bytes) throw new ShiiooError('NOT_FOUND', `blob ${key} not found`)
    if (createHash('sha256').update(bytes).digest('hex') !== key)
      throw new ShiiooError('DATA_CORRUPTED', `blob ${key} is damaged`)
    return Uint8Array.from(bytes)
  }

  async has(request: { tenant: TenantId; key: string }): Promise<boolean> {
    return this.data.has(`${parseTenantId(request.tenant)}/${parseBlobKey(request.key)}`)
  }

  async *keys(request: { tenant: TenantId }): AsyncIterable<string> {
    const prefix = `${parseTenantId(request.tenant)}/`
    for (const k of [...this.data.keys()].sort()) if (k.startsWith(prefix)) yield k.slice(prefix.length)
  }
}
