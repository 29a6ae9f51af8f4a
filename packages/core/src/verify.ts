import type { StreamId, TenantId } from './ids.js'
import { DEFAULT_TENANT, streamKind } from './ids.js'
import { ShiiooError, toShiiooError } from './errors.js'
import type { BlobStore } from './ports/blob-store.js'
import type { EventLog } from './ports/event-log.js'
import type { StoredEvent } from './events/envelope.js'
import { blobReferences } from './events/blob-refs.js'
import { foldRun } from './projection/run-summary.js'
import { checkAuditChain } from './audit/chain.js'
import { AUDIT_STREAM } from './audit/entry.js'

export interface VerifyFinding {
  kind: 'stream' | 'blob'
  tenant: string
  /** The stream, or for kind 'blob' the blob's key. */
  id: string
  seq?: number
  offset?: number
  /** The blob an event at `seq` of stream `id` names, when that blob is missing or damaged. */
  blob?: string
  message: string
}

export interface VerifyReport {
  ok: boolean
  streams: number
  events: number
  /** Blobs stored (in every tenant), each read and re-hashed. */
  blobs: number
  /** Distinct blobs the events name (per tenant); each must be stored and whole. */
  referencedBlobs: number
  /** problems[0] is the first bad record found. */
  problems: VerifyFinding[]
  /** Not damage: e.g. a torn tail that a crash left and the next append will cut. */
  warnings: VerifyFinding[]
}

/** A log that can report a torn tail (the filesystem log can); other logs are read normally. */
type InspectableLog = EventLog & {
  inspect?(r: { tenant: TenantId; stream: StreamId }): Promise<{
    events: StoredEvent[]
    tornTail: { offset: number; bytes: number; reason: string } | null
    /** The stream's file holds no bytes at all. */
    empty?: boolean
    /** A lock on the stream whose holder is gone. */
    staleLock?: { path: string; pid: number; host: string } | null
  }>
  tenants?(): Promise<TenantId[]>
}

export interface VerifyProgress {
  phase: 'streams' | 'blobs'
  done: number
}

/** The first event of a tenant's streams that names a blob, and how many name it. */
interface Reference {
  stream: string
  seq: number
  count: number
}

/**
 * Reads every stream and every blob, checking envelopes, order, run folds, audit chains and blob
 * hashes, and that every blob an event names is stored, whole, in the event's tenant.
 */
export async function verifyDataDir(options: {
  log: InspectableLog
  blobs: BlobStore
  onProgress?: (p: VerifyProgress) => void
  signal?: AbortSignal
}): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: true,
    streams: 0,
    events: 0,
    blobs: 0,
    referencedBlobs: 0,
    problems: [],
    warnings: [],
  }
  const tenants = new Set<TenantId>([DEFAULT_TENANT, ...((await options.log.tenants?.()) ?? [])])
  const references = new Map<TenantId, Map<string, Reference>>()
  for await (const s of options.log.listStreams({ signal: options.signal })) {
    tenants.add(s.tenant)
    report.streams++
    try {
      let events: StoredEvent[]
      if (options.log.inspect) {
        const r = await options.log.inspect(s)
        events = r.events
        for (const message of leftovers(r))
          report.warnings.push({ kind: 'stream', tenant: s.tenant, id: s.stream, message })
        if (r.tornTail) {
          report.warnings.push({
            kind: 'stream',
            tenant: s.tenant,
            id: s.stream,
            offset: r.tornTail.offset,
            message: `torn tail of ${r.tornTail.bytes} bytes at byte ${r.tornTail.offset} (an append cut by a crash, never acknowledged; the next append cuts it)`,
          })
        }
      } else {
        events = await options.log.read(s)
      }
      report.events += events.length
      const ids = new Set<string>()
      let named = references.get(s.tenant)
      if (!named) references.set(s.tenant, (named = new Map<string, Reference>()))
      for (const e of events) {
        if (ids.has(e.id)) {
          throw new ShiiooError('DATA_CORRUPTED', `event id ${e.id} appears twice`, { details: { seq: e.seq } })
        }
        ids.add(e.id)
        for (const { key } of blobReferences(e)) {
          const first = named.get(key)
          if (first) first.count++
          else named.set(key, { stream: s.stream, seq: e.seq, count: 1 })
        }
      }
      if (streamKind(s.stream) === 'run' && events.length > 0) foldRun(events)
      if (s.stream === AUDIT_STREAM) {
        const broken = checkAuditChain(events).problem
        if (broken) {
          throw new ShiiooError('DATA_CORRUPTED', `audit chain: ${broken.message}`, { details: { seq: broken.seq } })
        }
      }
    } catch (err) {
      const e = toShiiooError(err)
      const seq = e.details.seq as number | undefined
      const offset = e.details.offset as number | undefined
      report.problems.push({
        kind: 'stream',
        tenant: s.tenant,
        id: s.stream,
        ...(seq ? { seq } : {}),
        ...(offset !== undefined ? { offset } : {}),
        message: e.message,
      })
    }
    options.onProgress?.({ phase: 'streams', done: report.streams })
  }
  const referenceProblems: VerifyFinding[] = []
  for (const tenant of tenants) {
    const named = references.get(tenant) ?? new Map<string, Reference>()
    report.referencedBlobs += named.size
    const stored = new Set<string>()
    const damaged = new Map<string, string>()
    for await (const key of options.blobs.keys({ tenant, signal: options.signal })) {
      report.blobs++
      stored.add(key)
      try {
        await options.blobs.get({ tenant, key })
      } catch (err) {
        const message = toShiiooError(err).message
        damaged.set(key, message)
        report.problems.push({ kind: 'blob', tenant, id: key, message })
      }
      if (report.blobs % 100 === 0) options.onProgress?.({ phase: 'blobs', done: report.blobs })
    }
    for (const [key, ref] of named) {
      const why = !stored.has(key)
        ? `which is not in tenant ${tenant}'s blob store`
        : damaged.has(key)
          ? `which is damaged (${damaged.get(key)!})`
          : null
      if (why === null) continue
      const others = ref.count > 1 ? ` (named ${ref.count} times in all)` : ''
      referenceProblems.push({
        kind: 'stream',
        tenant,
        id: ref.stream,
        seq: ref.seq,
        blob: key,
        message: `the event names blob ${key}, ${why}${others}`,
      })
    }
  }
  report.problems.push(...referenceProblems)
  report.ok = report.problems.length === 0
  return report
}

/** What a process that stopped left of a stream, in words: not damage, nothing acknowledged is missing. */
function leftovers(r: { empty?: boolean; staleLock?: { path: string; pid: number; host: string } | null }): string[] {
  const out: string[] = []
  if (r.empty) {
    out.push(
      'empty stream file: a process stopped before its first commit to it was durable (nothing was acknowledged; the stream has no events)',
    )
  }
  if (r.staleLock) {
    out.push(
      `stale lock ${r.staleLock.path}: its holder (process ${r.staleLock.pid} on ${r.staleLock.host}) is gone; the next writer of the stream breaks it`,
    )
  }
  return out
}
