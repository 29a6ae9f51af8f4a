import { crc32 } from 'node:zlib'
import type { StreamId, TenantId } from '../ids.js'
import { isStreamId, isTenantId } from '../ids.js'

/**
 * The feed's record format. A segment file is a sequence of records appended with O_APPEND by
 * every process of the data dir:
 *
 *   magic 4 bytes | payload length u16 | crc32 u32 (of what follows it) | kind u8 | 0 u8 | payload
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

/** The bytes after the checksum, which it covers: kind, a zero, the payload. */
const CHECKED_FROM = 10

export function encodeFeedRecord(r: FeedRecord): Buffer {
  return encodeFeedRecords([r]).bytes
}

/** Records encoded into one buffer (one write), with each one's length and checksum. */
export function encodeFeedRecords(records: readonly FeedRecord[]): {
  bytes: Buffer
  lengths: number[]
  crcs: number[]
} {
  const texts = records.map((r) =>
    r.kind === 'commit'
      ? `${r.tenant} ${r.stream} ${r.firstSeq} ${r.lastSeq} ${r.offset} ${r.length} ${r.writer} ${r.n}`
      : r.writer,
  )
  // ids and numbers are ASCII: a character is a byte
  const bytes = Buffer.allocUnsafe(texts.reduce((n, t) => n + FEED_HEADER_BYTES + t.length, 0))
  const lengths: number[] = []
  const crcs: number[] = []
  let p = 0
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i]!
    const end = p + FEED_HEADER_BYTES + text.length
    FEED_MAGIC.copy(bytes, p)
    bytes.writeUInt16LE(text.length, p + 4)
    bytes[p + CHECKED_FROM] = records[i]!.kind === 'commit' ? KIND_COMMIT : KIND_SEAL
    bytes[p + CHECKED_FROM + 1] = 0
    bytes.write(text, p + FEED_HEADER_BYTES, 'latin1')
    const crc = crc32(bytes.subarray(p + CHECKED_FROM, end))
    bytes.writeUInt32LE(crc, p + 6)
    lengths.push(end - p)
    crcs.push(crc)
    p = end
  }
  return { bytes, lengths, crcs }
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
  const crc = buf.readUInt32LE(p + 6)
  if (crc32(buf.subarray(p + CHECKED_FROM, end)) !== crc) return { kind: 'bad', reason: 'checksum mismatch' }
  const record = parsePayload(buf[p + CHECKED_FROM]!, buf.toString('latin1', p + FEED_HEADER_BYTES, end))
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
