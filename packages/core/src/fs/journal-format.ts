import { crc32 } from 'node:zlib'
import type { StreamId, TenantId } from '../ids.js'
import { isStreamId, isTenantId } from '../ids.js'

/**
 * The write-ahead journal's record format. A segment is a preallocated (sparse) file of records:
 *
 *   magic u32 | segment u32 | payload length u32 | crc32(payload) u32 | payload
 *   payload = {"t":tenant,"s":stream,"o":offset,"q":last seq}\n + the gzip member written at that offset
 *
 * The unwritten rest of a segment reads as zeros, so the first header that is not whole, has the
 * wrong magic or segment number, or whose payload fails its CRC ends the segment (a torn tail).
 */
export const JOURNAL_MAGIC = 0x534a3031 // "SJ01"
export const HEADER_BYTES = 16

/** A checkpointed segment kept for reuse: no owner, never replayed. */
export const SPARE_FILE = /^spare-[0-9a-f]+\.wal$/

/**
 * The id in every record of segment `n` of `owner`. A segment file is reused after checkpoints,
 * so it may still hold an older segment's records after ours: their other id ends the segment.
 */
export function segmentId(owner: string, n: number): number {
  return crc32(`${owner}.${n}`)
}

export interface JournalEntry {
  tenant: TenantId
  stream: StreamId
  /** Where in the stream file the bytes start. */
  offset: number
  bytes: Buffer
  /** The stream's version once these bytes are in (the commit's last seq); 0 if not known. */
  seq: number
}

/**
 * A record as two buffers, header and the commit's own bytes (written together with writev, so
 * the member is not copied).
 */
export function encodeRecord(segment: number, e: JournalEntry): [Buffer, Buffer] {
  const text = JSON.stringify({ t: e.tenant, s: e.stream, o: e.offset, q: e.seq }) + '\n'
  const head = Buffer.allocUnsafe(HEADER_BYTES + Buffer.byteLength(text))
  const headLength = head.write(text, HEADER_BYTES) // ids and offsets are ASCII
  head.writeUInt32LE(JOURNAL_MAGIC, 0)
  head.writeUInt32LE(segment >>> 0, 4)
  head.writeUInt32LE(headLength + e.bytes.length, 8)
  head.writeUInt32LE(crc32(e.bytes, crc32(head.subarray(HEADER_BYTES))), 12)
  return [head, e.bytes]
}

export interface DecodedSegment {
  entries: JournalEntry[]
  /** Byte offset just past the last whole record. */
  end: number
  /** Why decoding stopped before the end of the file, when it was not plain zeros. */
  stoppedBy: string | null
}

/** Reads a segment's whole records; ids are validated, so a forged record cannot name a path. */
export function decodeSegment(buf: Buffer, segment: number): DecodedSegment {
  const entries: JournalEntry[] = []
  let p = 0
  const stop = (why: string | null): DecodedSegment => ({ entries, end: p, stoppedBy: why })
  while (p + HEADER_BYTES <= buf.length) {
    const magic = buf.readUInt32LE(p)
    if (magic === 0) return stop(null)
    if (magic !== JOURNAL_MAGIC) return stop(`bad magic at byte ${p}`)
    if (buf.readUInt32LE(p + 4) !== segment >>> 0) return stop(`record of another segment at byte ${p}`)
    const len = buf.readUInt32LE(p + 8)
    const start = p + HEADER_BYTES
    if (start + len > buf.length) return stop(`record at byte ${p} is cut short`)
    const payload = buf.subarray(start, start + len)
    if (crc32(payload) !== buf.readUInt32LE(p + 12)) return stop(`checksum mismatch at byte ${p}`)
    const nl = payload.indexOf(10)
    if (nl < 0) return stop(`unreadable record header at byte ${p}`)
    let head: { t?: unknown; s?: unknown; o?: unknown; q?: unknown }
    try {
      head = JSON.parse(payload.subarray(0, nl).toString('utf8')) as typeof head
    } catch {
      return stop(`unreadable record header at byte ${p}`)
    }
    const { t, s, o, q } = head
    const ok = typeof t === 'string' && isTenantId(t) && typeof s === 'string' && isStreamId(s)
    if (!ok || !Number.isSafeInteger(o) || (o as number) < 0) {
      return stop(`invalid record header at byte ${p}`)
    }
    entries.push({
      tenant: t,
      stream: s,
      offset: o as number,
      bytes: Buffer.from(payload.subarray(nl + 1)),
      // written by every version since recovery points; an older segment's records lack it
      seq: Number.isSafeInteger(q) && (q as number) > 0 ? (q as number) : 0,
    })
    p = start + len
  }
  return stop(p < buf.length && buf.subarray(p).some((b) => b !== 0) ? `record at byte ${p} is cut short` : null)
}
