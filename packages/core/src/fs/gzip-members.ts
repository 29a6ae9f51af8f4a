import { crc32, gzipSync, inflateRawSync } from 'node:zlib'
import { ShiiooError } from '../errors.js'

/**
 * A stream file is a sequence of gzip members, each holding one or more whole JSON lines, so the
 * file is valid for `zcat | jq` and an append never rewrites earlier bytes. This module finds
 * member boundaries (which plain gunzip hides) so a torn tail can be told from damage in the middle.
 */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])
/** Below this many bytes a commit is stored, not deflated: deflate saves little on one event. */
const STORE_BELOW = 1024

export function encodeMember(text: string): Buffer {
  const length = Buffer.byteLength(text, 'utf8')
  if (length >= STORE_BELOW) return gzipSync(Buffer.from(text, 'utf8'), { level: 1 })
  // A gzip member with one stored deflate block (what gzip itself writes for incompressible
  // data): framing and a CRC, no zlib stream to set up, which is most of a small commit's cost.
  // The text is encoded straight into the member: no intermediate buffer.
  const out = Buffer.allocUnsafe(10 + 5 + length + 8)
  GZIP_HEADER.copy(out, 0)
  out[10] = 1 // BFINAL=1, BTYPE=00 (stored)
  out.writeUInt16LE(length, 11)
  out.writeUInt16LE(~length & 0xffff, 13)
  out.write(text, 15, 'utf8')
  out.writeUInt32LE(crc32(out.subarray(15, 15 + length)), 15 + length)
  out.writeUInt32LE(length, 19 + length)
  return out
}

const FHCRC = 2
const FEXTRA = 4
const FNAME = 8
const FCOMMENT = 16

type Decoded = { ok: true; text: Buffer; next: number } | { ok: false; reason: string }

function skipZeroTerminated(buf: Buffer, at: number): number {
  const end = buf.indexOf(0, at)
  return end < 0 ? -1 : end + 1
}

/**
 * Reads a deflate stream made only of stored blocks (how small commits are written) without
 * zlib: setting up a zlib stream costs more than copying a few hundred bytes. Returns null when
 * a block is compressed (then zlib decodes the member), 'truncated' when the bytes end mid-block.
 */
function readStoredBlocks(buf: Buffer, start: number): { text: Buffer; consumed: number } | 'truncated' | null {
  const parts: Buffer[] = []
  let p = start
  for (;;) {
    if (p >= buf.length) return 'truncated'
    const header = buf[p]!
    if ((header & 0b110) !== 0) return null // a compressed block: the member is zlib's job
    if (p + 5 > buf.length) return 'truncated'
    const len = buf.readUInt16LE(p + 1)
    if ((len ^ 0xffff) !== buf.readUInt16LE(p + 3)) return null // not a stored block after all: let zlib say why
    if (p + 5 + len > buf.length) return 'truncated'
    parts.push(buf.subarray(p + 5, p + 5 + len))
    p += 5 + len
    if (header & 1) break // BFINAL
  }
  return { text: parts.length === 1 ? parts[0]! : Buffer.concat(parts), consumed: p - start }
}

export function decodeMemberAt(buf: Buffer, offset: number): Decoded {
  if (buf.length - offset < 18) return { ok: false, reason: 'member shorter than a gzip header and trailer' }
  if (buf[offset] !== 0x1f || buf[offset + 1] !== 0x8b || buf[offset + 2] !== 8)
    return { ok: false, reason: 'no gzip magic' }
  const flags = buf[offset + 3]!
  let p = offset + 10
  if (flags & FEXTRA) {
    if (p + 2 > buf.length) return { ok: false, reason: 'truncated gzip header' }
    p += 2 + buf.readUInt16LE(p)
  }
  if (flags & FNAME) p = skipZeroTerminated(buf, p)
  if (p > 0 && flags & FCOMMENT) p = skipZeroTerminated(buf, p)
  if (p > 0 && flags & FHCRC) p += 2
  if (p < 0 || p >= buf.length) return { ok: false, reason: 'truncated gzip header' }
  let text: Buffer
  let consumed: number
  const stored = readStoredBlocks(buf, p)
  if (stored === 'truncated') return { ok: false, reason: 'truncated stored block' }
  if (stored !== null) {
    ;({ text, consumed } = stored)
  } else {
    try {
      const r = inflateRawSync(buf.subarray(p), { info: true }) as unknown as {
        buffer: Buffer
        engine: { bytesWritten: number }
      }
      text = r.buffer
      consumed = r.engine.bytesWritten
    } catch (err) {
      return { ok: false, reason: `deflate data: ${(err as Error).message}` }
    }
  }
  const trailer = p + consumed
  if (trailer + 8 > buf.length) return { ok: false, reason: 'truncated gzip trailer' }
  if (buf.readUInt32LE(trailer) !== crc32(text)) return { ok: false, reason: 'gzip CRC mismatch' }
  if (buf.readUInt32LE(trailer + 4) !== text.length % 2 ** 32) return { ok: false, reason: 'gzip length mismatch' }
  return { ok: true, text, next: trailer + 8 }
}

export interface MemberScan {
  /** Every whole line, without its newline, with the byte offset of the member holding it. */
  lines: Array<{ text: string; offset: number }>
  /** Offset just past the last whole member. */
  end: number
  /** Set when the bytes after `end` are an incomplete member: an append cut short by a crash. */
  tornTail: { offset: number; bytes: number; reason: string } | null
}

function hasWholeMemberAfter(buf: Buffer, from: number): number {
  for (let i = buf.indexOf(0x1f, from); i >= 0 && i < buf.length - 17; i = buf.indexOf(0x1f, i + 1)) {
    if (buf[i + 1] === 0x8b && buf[i + 2] === 8 && decodeMemberAt(buf, i).ok) return i
  }
  return -1
}

/** The seq of the first event in the whole member at `offset`, or null if it cannot be read. */
function firstSeqAt(buf: Buffer, offset: number): number | null {
  const m = decodeMemberAt(buf, offset)
  if (!m.ok) return null
  const text = m.text.toString('utf8')
  try {
    const seq = (JSON.parse(text.slice(0, text.indexOf('\n'))) as { seq?: unknown }).seq
    return typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : null
  } catch {
    return null
  }
}

/**
 * Splits a stream file into lines. A bad member followed by a good one is damage in the middle:
 * DATA_CORRUPTED naming the offset (nothing is skipped). A bad member at the end is a torn tail.
 */
export function scanMembers(buf: Buffer, start = 0): MemberScan {
  const lines: MemberScan['lines'] = []
  let off = start
  while (off < buf.length) {
    const m = decodeMemberAt(buf, off)
    if (!m.ok) {
      const later = hasWholeMemberAfter(buf, off + 1)
      if (later >= 0) {
        // the lines before it are whole, so the damaged record starts at the next line; the
        // record after it says where it ends (when its first line can still be read)
        const nextSeq = firstSeqAt(buf, later)
        throw new ShiiooError(
          'DATA_CORRUPTED',
          `damaged record at byte ${off} (${m.reason}); a whole record follows at byte ${later}`,
          {
            details: {
              offset: off,
              reason: `${m.reason}; a whole record follows at byte ${later}`,
              linesBefore: lines.length,
              ...(nextSeq === null ? {} : { nextSeq }),
            },
          },
        )
      }
      return { lines, end: off, tornTail: { offset: off, bytes: buf.length - off, reason: m.reason } }
    }
    const text = m.text.toString('utf8')
    if (text.length === 0 || !text.endsWith('\n')) {
      throw new ShiiooError('DATA_CORRUPTED', `record at byte ${off} does not hold whole lines`, {
        details: { offset: off, reason: 'record does not hold whole lines' },
      })
    }
    let from = 0
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', from)) {
      lines.push({ text: text.slice(from, nl), offset: off })
      from = nl + 1
    }
    off = m.next
  }
  return { lines, end: off, tornTail: null }
}

/**
 * The fast path for a healthy file: the uncompressed content of every member, in order, or null
 * if anything is off (then `scanMembers` finds and names it). No per-line work.
 */
export function inflateMembers(buf: Buffer): Buffer[] | null {
  const chunks: Buffer[] = []
  let off = 0
  while (off < buf.length) {
    const m = decodeMemberAt(buf, off)
    if (!m.ok) return null
    chunks.push(m.text)
    off = m.next
  }
  return chunks
}
