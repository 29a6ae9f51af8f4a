import { crc32 } from 'node:zlib'
import type { StreamId, TenantId } from '../ids.js'
import { isStreamId, isTenantId } from '../ids.js'

/**
 * The feed's record format. A segment file is a sequence of records appended with O_APPEND by
 * every process of the data dir:
 *
 *   magic 4 bytes | payload length u16 | kind u8 | 0 u8 | crc32(kind, 0, payload) u32 | payload
 *
 *   commit payload: `<tenant> <stream> <firstSeq> <lastSeq> <offset> <length> <writer> <n>` (ASCII),
 *     offset and length: where the commit's gzip member is in the stream file, so that a reader
 *     in another process reads just those bytes, however long the stream
 *   seal payload:   `<writer>`: the segment ends here; the next one starts at the byte after it
 *
 * The magic's bytes are not ASCII, so a payload can never hold one: a reader that meets damage (a
 * write cut short by a killed process, zeros a machine crash left) finds the next record by
 * looking for the magic and checking the CRC. Ids are checked against their patterns, so a forged
 * record cannot name a path.
 */
export const FEED_MAGIC = Buffer.from([0xf5, 0xee, 0xd0, 0x01])
export const FEED_HEADER_BYTES = 12
/** Larger payloads are damage (a commit's is under 200 bytes). */
export const MAX_FEED_PAYLOAD = 512

const KIND_COMMIT = 1
const KIND_SEAL = 2

/** Where a commit's bytes (one gzip member) are in its stream file. */
export interface MemberAt {
  offset: number
  length: number
}

export interface CommitRecord extends MemberAt {
  kind: 'commit'
  tenant: TenantId
  stream: StreamId
  firstSeq: number
  lastSeq: number
  /** The writing process (its journal owner id), and its count of records: how it finds its own. */
  writer: string
  n: number
}

export interface SealRecord {
  kind: 'seal'
  writer: string
}

export type FeedRecord = CommitRecord | SealRecord

const WRITER = /^[a-z0-9-]{1,64}$/

export function encodeFeedRecord(r: FeedRecord): Buffer {
  const text =
    r.kind === 'commit'
      ? `${r.tenant} ${r.stream} ${r.firstSeq} ${r.lastSeq} ${r.offset} ${r.length} ${r.writer} ${r.n}`
      : r.writer
  const out = Buffer.allocUnsafe(FEED_HEADER_BYTES + text.length) // ids are ASCII
  FEED_MAGIC.copy(out, 0)
  out.writeUInt16LE(text.length, 4)
  out[6] = r.kind === 'commit' ? KIND_COMMIT : KIND_SEAL
  out[7] = 0
  out.write(text, FEED_HEADER_BYTES, 'latin1')
  out.writeUInt32LE(checksum(out, FEED_HEADER_BYTES + text.length), 8)
  return out
}

function checksum(buf: Buffer, end: number): number {
  return crc32(buf.subarray(FEED_HEADER_BYTES, end), crc32(buf.subarray(6, 8)))
}

export type Decoded =
  | { kind: 'record'; record: FeedRecord; length: number; crc: number }
  /** The bytes end inside a record that may still be being written: look again later. */
  | { kind: 'incomplete' }
  /** Not a record: damage, or a region to skip; the next record starts after the next magic. */
  | { kind: 'bad'; reason: string }

/** Decodes the record starting at `p` in `buf`. */
export function decodeFeedRecord(buf: Buffer, p: number): Decoded {
  const avail = buf.length - p
  for (let i = 0; i < 4 && i < avail; i++) {
    if (buf[p + i] !== FEED_MAGIC[i]) return { kind: 'bad', reason: 'no record starts here' }
  }
  if (avail < FEED_HEADER_BYTES) return { kind: 'incomplete' }
  const len = buf.readUInt16LE(p + 4)
  if (len === 0 || len > MAX_FEED_PAYLOAD) return { kind: 'bad', reason: `payload length ${len}` }
  if (avail < FEED_HEADER_BYTES + len) return { kind: 'incomplete' }
  const end = p + FEED_HEADER_BYTES + len
  const crc = buf.readUInt32LE(p + 8)
  if (checksum(buf.subarray(p, end), FEED_HEADER_BYTES + len) !== crc)
    return { kind: 'bad', reason: 'checksum mismatch' }
  const record = parsePayload(buf[p + 6]!, buf.toString('latin1', p + FEED_HEADER_BYTES, end))
  if (record === null) return { kind: 'bad', reason: 'unreadable payload' }
  return { kind: 'record', record, length: FEED_HEADER_BYTES + len, crc }
}

function parsePayload(kind: number, text: string): FeedRecord | null {
  if (kind === KIND_SEAL) return WRITER.test(text) ? { kind: 'seal', writer: text } : null
  if (kind !== KIND_COMMIT) return null
  const parts = text.split(' ')
  if (parts.length !== 8) return null
  const [tenant, stream, writer] = [parts[0]!, parts[1]!, parts[6]!]
  const [firstSeq, lastSeq, offset, length, n] = [2, 3, 4, 5, 7].map((i) => Number(parts[i]))
  const whole = (x: number | undefined, min: number): x is number => Number.isSafeInteger(x) && x! >= min
  const ok =
    isTenantId(tenant) &&
    isStreamId(stream) &&
    WRITER.test(writer) &&
    whole(firstSeq, 1) &&
    whole(lastSeq, firstSeq) &&
    whole(offset, 0) &&
    whole(length, 1) &&
    whole(n, 0)
  return ok ? { kind: 'commit', tenant, stream, firstSeq, lastSeq, offset, length, writer, n } : null
}

/** Where the next record may start after damage at `p`: the next magic, or -1 if `buf` holds none. */
export function nextMagic(buf: Buffer, p: number): number {
  return buf.indexOf(FEED_MAGIC, p + 1)
}
