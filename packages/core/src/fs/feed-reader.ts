import { closeSync, fstatSync, openSync } from 'node:fs'
import type { CommitRecord, FeedRecord } from './feed-format.js'
import { FEED_HEADER_BYTES, FEED_MAGIC, decodeFeedRecord } from './feed-format.js'
import { createSegment, listSegments, segmentPath } from './feed-segments.js'
import { readRange } from './stream-file.js'

export interface ReadRecord<R extends FeedRecord = FeedRecord> {
  /** The record's absolute position. */
  at: number
  length: number
  crc: number
  record: R
}

/** Thrown when the reader needs a segment that retention deleted. */
export class SegmentExpired extends Error {
  constructor(readonly at: number) {
    super(`feed segment holding position ${at} was deleted (retention)`)
  }
}

export interface FeedReaderOptions {
  /** Create the next segment when a seal names one that does not exist yet (the live tail does). */
  createNext?: boolean
  /** Report commit records written after a seal in the same file (void: their writers rewrite them). */
  reportVoids?: boolean
  onDamage?: (at: number, reason: string) => void
}

const CHUNK = 1 << 20

/**
 * Reads the feed's records in order from an absolute position, across segments: at a seal it
 * goes on in the segment that starts right after it. Damage is skipped up to the next record (and
 * reported); a record still being written at the end is read once it is whole.
 */
export class FeedReader {
  private seg: { start: number; fd: number } | null = null
  /** Looking for the next magic after damage (or after starting at a point that may not be a record's start). */
  private resyncing: boolean

  constructor(
    private readonly dir: string,
    /** The absolute position of the next byte to read. */
    public position: number,
    private readonly options: FeedReaderOptions = {},
    exactStart = true,
  ) {
    this.resyncing = !exactStart
    this.open()
  }

  /** The segment being read (null before the feed has one). */
  get segmentStart(): number | null {
    return this.seg?.start ?? null
  }

  /**
   * Reads what was appended since the last call, at most about `budget` bytes. `caughtUp` is false
   * when the budget ran out first.
   */
  read(budget = 8 * CHUNK): { records: ReadRecord[]; voided: ReadRecord<CommitRecord>[]; caughtUp: boolean } {
    const records: ReadRecord[] = []
    const voided: ReadRecord<CommitRecord>[] = []
    for (;;) {
      if (this.seg === null && !this.open()) return { records, voided, caughtUp: true }
      const seg = this.seg!
      const size = fstatSync(seg.fd).size
      const off = this.position - seg.start
      if (off >= size) return { records, voided, caughtUp: true }
      if (budget <= 0) return { records, voided, caughtUp: false }
      const buf = readRange(seg.fd, off, Math.min(size, off + CHUNK))
      budget -= buf.length
      let p = 0
      let sealed = false
      while (p < buf.length) {
        if (this.resyncing) {
          const q = buf.indexOf(FEED_MAGIC, p)
          if (q < 0) {
            p = Math.max(p, buf.length - (FEED_MAGIC.length - 1)) // a magic may straddle the chunk's end
            break
          }
          p = q
          this.resyncing = false
        }
        const d = decodeFeedRecord(buf, p)
        if (d.kind === 'incomplete') break
        if (d.kind === 'bad') {
          this.options.onDamage?.(seg.start + off + p, d.reason)
          this.resyncing = true
          p++
          continue
        }
        const at = seg.start + off + p
        if (d.record.kind === 'seal') {
          if (this.options.reportVoids) voided.push(...this.voidsAfter(seg.fd, off + p + d.length))
          this.switchTo(at + d.length)
          sealed = true
          break
        }
        records.push({ at, length: d.length, crc: d.crc, record: d.record })
        p += d.length
      }
      if (sealed) continue
      this.position = seg.start + off + p
      // the chunk ended inside a record or a magic: read on from there, unless that is the file's end
      if (off + buf.length >= size && p < buf.length && !this.resyncing) return { records, voided, caughtUp: true }
      if (p === 0 && off + buf.length >= size) return { records, voided, caughtUp: true }
    }
  }

  /**
   * After this process appended `length` bytes to the segment being read: if the file now ends
   * exactly that far past what was read, those bytes are this process's own, whole (nothing else
   * was appended, no seal came between); skips over them and returns where they start. Otherwise
   * -1, and they are read like anyone else's. Spares reading back and decoding what was just written.
   */
  skipOwn(segment: number, length: number): number {
    const seg = this.seg
    if (this.resyncing || seg === null || seg.start !== segment) return -1
    if (fstatSync(seg.fd).size !== this.position - seg.start + length) return -1
    const at = this.position
    this.position += length
    return at
  }

  close(): void {
    if (this.seg) closeSilently(this.seg.fd)
    this.seg = null
  }

  /** Opens the segment holding `position`; false when the feed has none yet. */
  private open(): boolean {
    const starts = listSegments(this.dir)
    if (starts.length === 0) return false
    if (this.position < starts[0]!) throw new SegmentExpired(this.position)
    let start = starts[0]!
    for (const s of starts) if (s <= this.position) start = s
    try {
      this.seg = { start, fd: openSync(segmentPath(this.dir, start), 'r') }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new SegmentExpired(this.position)
      throw err
    }
    return true
  }

  /** Moves on to the segment that starts at `start` (a seal's end). */
  private switchTo(start: number): void {
    if (this.seg) closeSilently(this.seg.fd)
    this.seg = null
    this.position = start
    this.resyncing = false
    const starts = listSegments(this.dir)
    if (!starts.includes(start)) {
      if (starts.some((s) => s > start)) throw new SegmentExpired(start)
      if (!this.options.createNext) return // opened once whoever sealed it has made it
      createSegment(this.dir, start)
    }
    this.seg = { start, fd: openSync(segmentPath(this.dir, start), 'r') }
  }

  /** Commit records after a seal, to the file's current end. */
  private voidsAfter(fd: number, from: number): ReadRecord<CommitRecord>[] {
    const out: ReadRecord<CommitRecord>[] = []
    const buf = readRange(fd, from, fstatSync(fd).size)
    let p = 0
    while (p + FEED_HEADER_BYTES <= buf.length) {
      const d = decodeFeedRecord(buf, p)
      if (d.kind === 'record') {
        if (d.record.kind === 'commit') out.push({ at: -1, length: d.length, crc: d.crc, record: d.record })
        p += d.length
        continue
      }
      if (d.kind === 'incomplete') break
      const q = buf.indexOf(FEED_MAGIC, p + 1)
      if (q < 0) break
      p = q
    }
    return out
  }
}

function closeSilently(fd: number): void {
  try {
    closeSync(fd)
  } catch {
    // already closed
  }
}
