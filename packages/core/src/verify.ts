import type { StreamId, TenantId } from './ids.js'
import { DEFAULT_TENANT, streamKind } from './ids.js'
import { ShiiooError, toShiiooError } from './errors.js'
import type { BlobStore } from './ports/blob-store.js'
import type { EventLog } from './ports/event-log.js'
import type { StoredEvent } from './events/envelope.js'
import { foldRun } from './projection/run-summary.js'

export interface VerifyFinding {
  kind: 'stream' | 'blob'
  tenant: string
  id: string
  seq?: number
  offset?: number
  message: string
}

export interface VerifyReport {
  ok: boolean
  streams: number
  events: number
  blobs: number
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
  }>
  tenants?(): Promise<TenantId[]>
}

export interface VerifyProgress {
  phase: 'streams' | 'blobs'
  done: number
}

/** Reads every stream and every blob, checking envelopes, order, run folds and blob hashes. */
export async function verifyDataDir(options: {
  log: InspectableLog
  blobs: BlobStore
  onProgress?: (p: VerifyProgress) => void
  signal?: AbortSignal
}): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, streams: 0, events: 0, blobs: 0, problems: [], warnings: [] }
  const tenants = new Set<TenantId>([DEFAULT_TENANT, ...((await options.log.tenants?.()) ?? [])])
  for await (const s of options.log.listStreams({ signal: options.signal })) {
    tenants.add(s.tenant)
    report.streams++
    try {
      let events: StoredEvent[]
      if (options.log.inspect) {
        const r = await options.log.inspect(s)
        events = r.events
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
      for (const e of events) {
        if (ids.has(e.id)) {
          throw new ShiiooError('DATA_CORRUPTED', `event id ${e.id} appears twice`, { details: { seq: e.seq } })
        }
        ids.add(e.id)
      }
      if (streamKind(s.stream) === 'run' && events.length > 0) foldRun(events)
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
  for (const tenant of tenants) {
    for await (const key of options.blobs.keys({ tenant, signal: options.signal })) {
      report.blobs++
      try {
        await options.blobs.get({ tenant, key })
      } catch (err) {
        report.problems.push({ kind: 'blob', tenant, id: key, message: toShiiooError(err).message })
      }
      if (report.blobs % 100 === 0) options.onProgress?.({ phase: 'blobs', done: report.blobs })
    }
  }
  report.ok = report.problems.length === 0
  return report
}
