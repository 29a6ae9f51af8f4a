import type { NewEvent, StoredEvent } from '../events/envelope.js'
import { serializeEvent } from '../events/envelope.js'
import { ShiiooError } from '../errors.js'
import type { StreamId, TenantId } from '../ids.js'
import type { AppendRequest, AppendResult } from '../ports/event-log.js'
import type { StreamState } from './stream-file.js'
import { fingerprint } from './stream-file.js'

export interface Pending {
  request: AppendRequest
  events: NewEvent[]
  resolve: (r: AppendResult) => void
  reject: (e: unknown) => void
}

export type Outcome = { ok: true; result: AppendResult; stored: StoredEvent[] } | { ok: false; error: ShiiooError }

function conflict(message: string, details: Record<string, unknown> = {}): ShiiooError {
  return new ShiiooError('CONFLICT', message, { details })
}

/**
 * Decides each pending append of one commit, in order: a duplicate (every id already stored, same
 * content: return the original positions), a conflict (ids reused, or the wrong expected version),
 * a lease that is no longer current, too large, or the events it adds with their serialized lines. Pure: the caller writes the lines.
 */
export function planAppends(
  where: { tenant: TenantId; stream: StreamId },
  state: StreamState,
  batch: readonly Pending[],
  maxBytes: number,
  /** The fingerprint of the stored event at `seq` (read back only when an id repeats: rare). */
  storedFingerprint: (seq: number) => number,
  /** Why an append's lease no longer allows it to write (LEASE_LOST), or null. */
  leaseError: (request: AppendRequest) => ShiiooError | null = () => null,
) {
  const outcomes: Outcome[] = []
  const lines: string[] = []
  const added = new Map<string, { seq: number; event: NewEvent }>()
  const seqOf = (id: string) => state.ids.get(id) ?? added.get(id)?.seq
  const fingerprintOf = (id: string, seq: number) => {
    const a = added.get(id)
    return a ? fingerprint(a.event.type, JSON.stringify(a.event.data)) : storedFingerprint(seq)
  }
  let version = state.version
  for (const p of batch) {
    // the common case, ids never seen, costs one lookup per event and no allocation
    let present = 0
    for (const e of p.events) if (state.ids.has(e.id) || added.has(e.id)) present++
    if (present > 0 && present === p.events.length) {
      const known = p.events.map((e) => seqOf(e.id)!)
      const first = known[0]!
      const same = p.events.every(
        (e, i) =>
          known[i] === first + i && fingerprintOf(e.id, known[i]) === fingerprint(e.type, JSON.stringify(e.data)),
      )
      outcomes.push(
        same
          ? {
              ok: true,
              result: { firstSeq: first, lastSeq: first + p.events.length - 1, duplicate: true },
              stored: [],
            }
          : {
              ok: false,
              error: conflict(`events ${p.events[0]!.id}... were appended before with different content or order`),
            },
      )
      continue
    }
    if (present > 0) {
      outcomes.push({
        ok: false,
        error: conflict('some of these event ids were appended before; a retry must resend the same batch'),
      })
      continue
    }
    const fenced = p.request.lease === undefined ? null : leaseError(p.request)
    if (fenced !== null) {
      outcomes.push({ ok: false, error: fenced })
      continue
    }
    const ev = p.request.expectedVersion
    if (ev !== 'any' && ev !== version) {
      outcomes.push({
        ok: false,
        error: conflict(`stream ${where.stream} is at version ${version}, expected ${ev}`, { version, expected: ev }),
      })
      continue
    }
    const stored: StoredEvent[] = []
    const serialized: string[] = []
    let tooLarge: string | null = null
    for (const e of p.events) {
      const s = {
        id: e.id,
        stream: where.stream,
        seq: version + stored.length + 1,
        type: e.type,
        v: e.v,
        at: e.at,
        tenant: where.tenant,
        actor: e.actor,
        data: e.data,
      } as StoredEvent
      const dataJson = JSON.stringify(e.data)
      const line = serializeEvent(s, dataJson)
      // a UTF-16 unit is at most 3 UTF-8 bytes: count bytes only for lines that could be too long
      if (line.length * 3 > maxBytes && Buffer.byteLength(line) > maxBytes) {
        tooLarge = e.id
        break
      }
      stored.push(s)
      serialized.push(line)
    }
    if (tooLarge !== null) {
      outcomes.push({
        ok: false,
        error: new ShiiooError(
          'PAYLOAD_TOO_LARGE',
          `event ${tooLarge} is over ${maxBytes} bytes; store large payloads as blobs`,
        ),
      })
      continue
    }
    for (let i = 0; i < stored.length; i++) {
      lines.push(serialized[i]!)
      added.set(stored[i]!.id, { seq: stored[i]!.seq, event: p.events[i]! })
    }
    version += stored.length
    outcomes.push({ ok: true, result: { firstSeq: stored[0]!.seq, lastSeq: version, duplicate: false }, stored })
  }
  return { outcomes, lines, added }
}
