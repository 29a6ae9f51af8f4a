import {
  closeSync,
  constants,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs'
import { promisify } from 'node:util'
import { crc32 } from 'node:zlib'
import type { StoredEvent } from '../events/envelope.js'
import type { EventCatalog } from '../events/envelope.js'
import { decodeStoredEvent, decodeStoredRecord, defaultCatalog } from '../events/envelope.js'
import { ShiiooError } from '../errors.js'
import type { StreamId, TenantId } from '../ids.js'
import { inflateMembers, scanMembers } from './gzip-members.js'

export const fdatasyncAsync = promisify(fdatasync)

/** What a writer knows about its stream file: how far it is durable and which ids it holds. */
export interface StreamState {
  size: number
  version: number
  /** event id -> seq, for idempotent re-appends. */
  ids: Map<string, number>
}

/** Fingerprint of an event's type and data JSON, to tell a true retry from a reused id. */
export function fingerprint(type: string, dataJson: string): number {
  return crc32(dataJson, crc32(type))
}

/** The fingerprint of the event at `seq` of a stream file's first `size` bytes (for the rare repeated id). */
export function storedFingerprint(fd: number, size: number, where: Where, seq: number): number {
  const decoded = decodeStreamBytes(readRange(fd, 0, size), where, { prevVersion: 0, fromSeq: seq, toSeq: seq })
  const e = decoded.events[0]
  if (!e) throw new ShiiooError('INTERNAL', `${where.path}: seq ${seq} is not in the file`)
  return fingerprint(e.type, JSON.stringify(e.data))
}

export function readRange(fd: number, from: number, to: number): Buffer {
  const buf = Buffer.allocUnsafe(to - from)
  let got = 0
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, from + got)
    if (n === 0) break
    got += n
  }
  return got === buf.length ? buf : buf.subarray(0, got)
}

/** Bytes `offset` to `offset + length` of a file (fewer where it ends first), or null if there is no file. */
export function readFileRange(path: string, offset: number, length: number): Buffer | null {
  return withFile(path, (fd) => readRange(fd, offset, offset + length))
}

/** `read(fd)` of the file at `path`, opened for reading and closed after; null if there is no file. */
function withFile<T>(path: string, read: (fd: number) => T): T | null {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  try {
    return read(fd)
  } finally {
    closeSync(fd)
  }
}

export function writeFully(fd: number, buf: Buffer, position: number): void {
  let done = 0
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done)
}

/**
 * Opens a stream file for appending, creating it if needed. `created` says the directory entry is
 * new: it must be made durable (a directory fsync, or the journal's checkpoint) before it counts.
 * On the main thread: a create is one short syscall, and a threadpool round trip costs more.
 */
export function openStreamFile(path: string): { fd: number; created: boolean } {
  try {
    return { fd: openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644), created: true }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return { fd: openSync(path, constants.O_RDWR), created: false }
  }
}

export function closeQuietly(fd: number | null): void {
  if (fd === null) return
  try {
    closeSync(fd)
  } catch {
    // already closed
  }
}

export interface DecodedLines {
  events: StoredEvent[]
  /** How many events the bytes hold, decoded or not. */
  count: number
  end: number
  tornTail: { offset: number; bytes: number; reason: string } | null
}

/**
 * Decodes the events in `buf` (a stream file, or the part of it from `baseOffset` on), checking
 * that each belongs to this stream and tenant and that seqs run on from `prevVersion` with no gap.
 * Lines whose seq is below `fromSeq` are counted but not decoded.
 */
export interface DecodeRange {
  /** The stream version just before these bytes (0 when they start the file). */
  prevVersion: number
  /** Where these bytes start in the file, for offsets in messages. */
  baseOffset?: number
  fromSeq?: number
  toSeq?: number
  /** Skip data schema checks of current-version events (see ReadRequest.validation). */
  trustData?: boolean
  /** The event types the reader knows (default: core's modules). */
  catalog?: EventCatalog
}

type Where = { tenant: TenantId; stream: StreamId; path: string }
type Range = Required<DecodeRange>

export function decodeStreamBytes(buf: Buffer, where: Where, range: DecodeRange): DecodedLines {
  const r: Range = {
    baseOffset: 0,
    fromSeq: 1,
    toSeq: Number.MAX_SAFE_INTEGER,
    trustData: false,
    catalog: defaultCatalog,
    ...range,
  }
  return decodeFast(buf, where, r) ?? decodeByMember(buf, where, r)
}

/**
 * The common case, a whole and healthy file: walk the members (small commits are stored blocks,
 * read without zlib), then one JSON.parse over all wanted lines. Returns null on any trouble, and
 * the member-by-member path then finds and names it (or reports the torn tail).
 */
function decodeFast(buf: Buffer, where: Where, range: Range): DecodedLines | null {
  const { prevVersion, baseOffset, fromSeq, toSeq } = range
  const chunks = inflateMembers(buf)
  if (chunks === null) return null
  if (chunks.length === 0) return { events: [], count: 0, end: baseOffset, tornTail: null }
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8')
  if (!text.endsWith('\n')) return null
  // JSON text never holds a raw newline, so newlines are exactly the record boundaries
  const body = text.slice(0, -1)
  const first = Math.max(0, fromSeq - prevVersion - 1)
  let count: number
  let wanted: string
  if (first === 0 && toSeq === Number.MAX_SAFE_INTEGER) {
    wanted = body
    count = 1
    for (let i = body.indexOf('\n'); i >= 0; i = body.indexOf('\n', i + 1)) count++
  } else {
    const lines = body.split('\n')
    count = lines.length
    wanted = lines.slice(first, Math.min(lines.length, toSeq - prevVersion)).join('\n')
  }
  const last = Math.min(count, toSeq - prevVersion)
  const events: StoredEvent[] = []
  if (first < last) {
    let raws: unknown[]
    try {
      raws = JSON.parse('[' + wanted.replaceAll('\n', ',') + ']') as unknown[]
    } catch {
      return null
    }
    if (raws.length !== last - first) return null
    for (let i = 0; i < raws.length; i++) {
      let e: StoredEvent
      try {
        e = decodeStoredRecord(raws[i], range.catalog, where, range.trustData)
      } catch {
        return null
      }
      if (e.seq !== prevVersion + first + i + 1) return null
      events.push(e)
    }
  }
  return { events, count, end: baseOffset + buf.length, tornTail: null }
}

function decodeByMember(buf: Buffer, where: Where, range: Range): DecodedLines {
  const { prevVersion, baseOffset, fromSeq, toSeq } = range
  let scan
  try {
    scan = scanMembers(buf)
  } catch (err) {
    if (err instanceof ShiiooError) {
      const offset = baseOffset + Number(err.details.offset ?? 0)
      const reason = typeof err.details.reason === 'string' ? err.details.reason : err.message
      // the first seq the damaged record held, and its last when the next record says
      const seq = prevVersion + Number(err.details.linesBefore ?? 0) + 1
      const next = typeof err.details.nextSeq === 'number' ? err.details.nextSeq : null
      const held =
        next === null || next <= seq ? `seq ${seq} on` : next - 1 === seq ? `seq ${seq}` : `seq ${seq}-${next - 1}`
      throw new ShiiooError(
        'DATA_CORRUPTED',
        `${where.path}: damaged record holding ${held} at byte ${offset} (${reason})`,
        {
          details: { ...err.details, offset, stream: where.stream, tenant: where.tenant, seq },
        },
      )
    }
    throw err
  }
  const events: StoredEvent[] = []
  let seq = prevVersion
  for (const line of scan.lines) {
    seq++
    if (seq < fromSeq || seq > toSeq) continue
    let e: StoredEvent
    try {
      e = decodeStoredEvent(line.text)
    } catch (err) {
      throw corrupt(where, seq, baseOffset + line.offset, (err as Error).message)
    }
    if (e.seq !== seq) throw corrupt(where, seq, baseOffset + line.offset, `seq ${e.seq} where ${seq} was expected`)
    if (e.stream !== where.stream || e.tenant !== where.tenant) {
      throw corrupt(where, seq, baseOffset + line.offset, `event of ${e.tenant}/${e.stream} in this stream`)
    }
    events.push(e)
  }
  const tornTail = scan.tornTail ? { ...scan.tornTail, offset: baseOffset + scan.tornTail.offset } : null
  return { events, count: seq - prevVersion, end: baseOffset + scan.end, tornTail }
}

function corrupt(where: Where, seq: number, offset: number, message: string) {
  return new ShiiooError('DATA_CORRUPTED', `${where.path}: seq ${seq} at byte ${offset}: ${message}`, {
    details: { stream: where.stream, tenant: where.tenant, seq, offset },
  })
}

/**
 * Brings `state` up to date with the file (another process may have appended) and cuts a torn
 * tail. Must be called with the stream's lock held.
 */
export function refreshState(
  fd: number,
  state: StreamState | null,
  where: Where,
  /** Throws when the bytes disagree with the stream's recovery point (then nothing is cut). */
  check?: (decoded: DecodedLines, fileBytes: number, prevVersion: number) => void,
): StreamState {
  const size = fstatSync(fd).size
  if (state !== null && size === state.size) return state
  const base = state !== null && size > state.size ? state : { size: 0, version: 0, ids: new Map<string, number>() }
  const decoded = decodeStreamBytes(readRange(fd, base.size, size), where, {
    prevVersion: base.version,
    baseOffset: base.size,
  })
  check?.(decoded, size, base.version)
  for (const e of decoded.events) base.ids.set(e.id, e.seq)
  base.version += decoded.events.length
  base.size = decoded.end
  if (decoded.tornTail) {
    // Only a writer that died mid-append leaves a partial record past what was acknowledged (the
    // check said so), and we hold the lock: cut it.
    ftruncateSync(fd, decoded.end)
    fdatasyncSync(fd)
  }
  return base
}

/**
 * Stream files are read whole and synchronously: they are small (one run each) and a sync read
 * costs one syscall round instead of four threadpool hops, which is what makes rebuilds fast. A
 * file that fits in `scratch` is read with one read(2) into it (no stat, no allocation); the
 * result is only valid until the next read, and every caller decodes it at once.
 */
export function readStreamFile(path: string, scratch: Buffer): Buffer | null {
  return withFile(path, (fd) => {
    const n = readSync(fd, scratch, 0, scratch.length, 0)
    if (n < scratch.length) return scratch.subarray(0, n) // a short read of a regular file is its end
    return readFileSync(fd)
  })
}

/**
 * What a stream's bytes say against its recovery point (the bytes acknowledged, see
 * RecoveryPoints): a file shorter than the point was cut, and a bad record at or before it is
 * damage, never a torn tail. Null when they agree. `fileBytes` is the file's whole length.
 */
export function pointProblem(
  decoded: Pick<DecodedLines, 'count' | 'end' | 'tornTail'>,
  fileBytes: number,
  prevVersion: number,
  point: { end: number; seq: number },
  where: Where,
): ShiiooError | null {
  const through = point.seq > 0 ? `, events through seq ${point.seq}` : ''
  const seq = prevVersion + decoded.count + 1
  if (fileBytes < point.end) {
    return new ShiiooError(
      'DATA_CORRUPTED',
      `${where.path}: cut short: ${point.end - fileBytes} acknowledged bytes are missing from seq ${seq} on (the file ends at byte ${fileBytes}; ${point.end} bytes${through} were acknowledged)`,
      { details: { stream: where.stream, tenant: where.tenant, seq, offset: fileBytes, acknowledged: point.end } },
    )
  }
  if (decoded.tornTail !== null && decoded.tornTail.offset < point.end) {
    return new ShiiooError(
      'DATA_CORRUPTED',
      `${where.path}: damaged record holding seq ${seq} on at byte ${decoded.tornTail.offset} (${decoded.tornTail.reason}); it was acknowledged (${point.end} bytes${through}), so it is damage, not a torn tail`,
      { details: { stream: where.stream, tenant: where.tenant, seq, offset: decoded.tornTail.offset } },
    )
  }
  return null
}

/** Whole records past the point that no writer acknowledged (see FsEventLog.checkPoint). */
export function pastPointProblem(end: number, point: { end: number; seq: number }, where: Where): ShiiooError {
  const from = point.seq > 0 ? ` (from seq ${point.seq + 1} on)` : ''
  return new ShiiooError(
    'DATA_CORRUPTED',
    `${where.path}: ${end - point.end} bytes past byte ${point.end}${from} were never acknowledged by a writer of this data dir (no process holds the stream and no journal covers them): written by something else`,
    {
      details: {
        stream: where.stream,
        tenant: where.tenant,
        ...(point.seq > 0 ? { seq: point.seq + 1 } : {}),
        offset: point.end,
      },
    },
  )
}
