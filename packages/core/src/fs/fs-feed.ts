import type { FSWatcher } from 'node:fs'
import { closeSync, openSync, statSync, watch } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { StoredEvent } from '../events/envelope.js'
import { ShiiooError } from '../errors.js'
import { badPosition, positionGone } from '../feed/feed-request.js'
import type { FeedCursor, FeedSource, SourceCommit } from '../feed/pull.js'
import { FeedWaiters, ZERO_POSITION, decodePosition, encodePosition, feedIterables } from '../feed/pull.js'
import type { EventFeed, FeedEvent, FeedPosition, FeedStart } from '../ports/feed.js'
import type { StreamId, TenantId } from '../ids.js'
import type { Logger } from '../ports/logger.js'
import { ensureDurableDir } from './durable.js'
import type { CommitRecord, MemberAt } from './feed-format.js'
import { FEED_HEADER_BYTES, MAX_FEED_PAYLOAD, decodeFeedRecord } from './feed-format.js'
import type { ReadRecord } from './feed-reader.js'
import { FeedReader, SegmentExpired } from './feed-reader.js'
import { applyRetention, createSegment, listSegments, segmentPath } from './feed-segments.js'
import type { EncodedRecord } from './feed-writer.js'
import { FeedWriter } from './feed-writer.js'
import { readRange } from './stream-file.js'

export interface FsFeedOptions {
  dataDir: string
  logger: Logger
  /**
   * Reads a commit's events from its bytes in the stream file (for commits of other processes, and
   * those no longer in memory); fewer than it holds while the file does not have them yet.
   */
  readCommit(commit: FeedCommitAt): Promise<StoredEvent[]>
  /** A segment is sealed once it reaches this size. The same for every process of a data dir. */
  segmentBytes?: number
  /** The oldest segments are deleted while the rest hold at least this much. */
  retentionBytes?: number
  /** Recent commits kept in memory (with this process's events) for subscribers near the head. */
  window?: number
  /** How often other processes' appends are looked for when the filesystem does not report them. */
  statMs?: number
  /** How often this process's records are fsynced (see FeedWriter). */
  syncMs?: number
  /** How long a commit's record may wait to share a write with others (see FeedWriter). */
  writeDelayMs?: number
}

/** A commit as its record gives it: stream, seqs, and where its bytes are in the stream file. */
export type FeedCommitAt = SourceCommit & MemberAt

interface HeldCommit extends FeedCommitAt {
  crc: number
  /** This process's events of the commit, until they are made `feedEvents`. */
  events: readonly StoredEvent[] | null
  /** The events with their positions, made once for every subscriber. */
  feedEvents: readonly FeedEvent[] | null
  /** The position of the last event (what commit subscribers get), made once. */
  lastPosition: FeedPosition | null
  loading: Promise<StoredEvent[]> | null
}

/**
 * Recent commits kept in memory. Enough for subscribers near the head (the rest read the files
 * back); more would keep this process's events alive long enough to be promoted to the old
 * generation, and an engine commits thousands a second.
 */
const DEFAULT_WINDOW = 1024

/** Found at start-up by reading this much of the newest segments back (their last records). */
const HEAD_SCAN = 64 * 1024

/**
 * The filesystem feed (ADR 0008): commit records in shared segment files under `feed/`, appended
 * by every process with O_APPEND; a record's position is its absolute byte offset. One tail
 * reader per process follows the newest segment (told of other processes' appends by `fs.watch`,
 * with a slow stat as fallback), keeps a window of recent commits in memory (this process's with
 * their events), and wakes waiting subscribers. Subscribers behind the window read the segment
 * files back; events of other processes' commits are read from their streams.
 */
export class FsFeed implements EventFeed {
  readonly dir: string
  private tail: FeedReader | null = null
  private window: HeldCommit[] = []
  /** The window holds every commit at or after this position. */
  private windowFrom = 0
  private head_: { at: number; lastSeq: number; crc: number } | null = null
  private newestStart = 0
  private readonly waiters: FeedWaiters
  /** Commits published since waiters were last woken. */
  private fresh: HeldCommit[] = []
  private writer_: FeedWriter | null = null
  private watcher: FSWatcher | null = null
  private statTimer: NodeJS.Timeout | null = null
  private pollScheduled = false
  private closed = false
  private readonly segmentBytes: number

  private readonly source: FeedSource<HeldCommit> = {
    after: (cursor, max) => this.after(cursor, max),
    changed: (cursor, wake, wants) => this.changed(cursor, wake, wants),
    events: (c, signal) => this.events(c, signal),
    position: (c, seq) =>
      seq === c.lastSeq ? (c.lastPosition ??= encodePosition(c.at, seq, c.crc)) : encodePosition(c.at, seq, c.crc),
  }

  constructor(private readonly options: FsFeedOptions) {
    this.dir = join(options.dataDir, 'feed')
    this.segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024
    // a subscription that wants none of the new commits sleeps through half the window at most
    this.waiters = new FeedWaiters(Math.max(1, Math.floor((options.window ?? DEFAULT_WINDOW) / 2)))
  }

  /**
   * This process's writer, named by its journal owner id (made once the journal is open);
   * `mayWrite` says whether the process still holds its identity (see FeedWriterHost).
   */
  attachWriter(id: string, mayWrite: () => boolean = () => true): FeedWriter {
    this.writer_ ??= new FeedWriter(
      id,
      {
        dir: this.dir,
        newest: () => (this.ensureTail(), this.newestStart),
        written: (segment, records) => this.written(segment, records),
        position: () => this.ensureTail().position,
        segmentBytes: this.segmentBytes,
        logger: this.options.logger,
        mayWrite,
      },
      { syncMs: this.options.syncMs ?? 5000, delayMs: this.options.writeDelayMs ?? 5 },
    )
    return this.writer_
  }

  get writer(): FeedWriter | null {
    return this.writer_
  }

  private readonly iterables = feedIterables(this.source, (after) => this.startOf(after))
  readonly subscribe: EventFeed['subscribe'] = this.iterables.subscribe
  readonly commits: EventFeed['commits'] = this.iterables.commits

  async head(): Promise<FeedPosition> {
    this.assertOpen()
    this.writer_?.flushNow() // this process's acknowledged appends count (read your writes)
    this.poll()
    const h = this.head_
    return h ? encodePosition(h.at, h.lastSeq, h.crc) : ZERO_POSITION
  }

  async close(clean: boolean): Promise<void> {
    this.closed = true
    this.watcher?.close()
    this.watcher = null
    if (this.statTimer) clearInterval(this.statTimer)
    this.statTimer = null
    this.waiters.wakeAll()
    await this.writer_?.close(clean)
    this.tail?.close()
    this.tail = null
  }

  /** Starts the tail at the end of the feed, finding the last commit (the head) on the way. */
  private ensureTail(): FeedReader {
    if (this.tail) return this.tail
    ensureDurableDir(this.dir)
    let starts = listSegments(this.dir)
    if (starts.length === 0) {
      createSegment(this.dir, 0)
      starts = listSegments(this.dir)
    }
    // A seal is written once a segment has reached segmentBytes, so it lies past that point: reading
    // the last HEAD_SCAN bytes below it (or below the end) finds a seal and the last commit.
    for (let i = starts.length - 1; ; i--) {
      const start = starts[i]!
      const size = statSync(segmentPath(this.dir, start), { throwIfNoEntry: false })?.size ?? 0
      const from = start + Math.max(0, Math.min(size, this.segmentBytes) - HEAD_SCAN)
      const reader = new FeedReader(this.dir, from, this.readerOptions(), from === start)
      let read
      do {
        read = reader.read()
        for (const r of read.records) if (r.record.kind === 'commit') this.head_ = headOf(r)
      } while (!read.caughtUp)
      if (this.head_ !== null || i === 0) {
        this.tail = reader
        break
      }
      reader.close()
    }
    this.windowFrom = this.tail.position
    this.newestStart = this.tail.segmentStart ?? 0
    return this.tail
  }

  private readerOptions() {
    return {
      createNext: true,
      reportVoids: true,
      onDamage: (at: number, reason: string) =>
        this.options.logger.warn('damaged feed record skipped', { position: at, reason }),
    }
  }

  /**
   * Reads what was appended since the last look: commits join the window (this writer's with the
   * events it kept), its void records are written again, and waiting subscribers wake.
   */
  private poll(): void {
    if (this.closed) return
    const tail = this.ensureTail()
    let published = false
    for (;;) {
      const read = tail.read()
      for (const r of read.records) {
        if (r.record.kind !== 'commit') continue
        this.publish(r as ReadRecord<CommitRecord>)
        published = true
      }
      const seg = tail.segmentStart ?? 0
      if (seg > this.newestStart) {
        this.newestStart = seg
        this.retain()
      }
      if (read.voided.length > 0 && this.writer_) {
        this.writer_.rewrite(read.voided.map((v) => v.record))
        continue
      }
      if (!read.caughtUp) this.schedulePoll()
      break
    }
    if (published) this.published()
  }

  /** A commit joins the window (this writer's with the events it kept). */
  private publish(r: ReadRecord<CommitRecord>): void {
    const rec = r.record
    const own = rec.writer === this.writer_?.id ? this.writer_.take(rec.n) : null
    const c = { ...held(r), events: own }
    this.window.push(c)
    this.fresh.push(c)
    this.head_ = headOf(r)
  }

  private published(): void {
    // trimmed a quarter at a time: a splice from the front moves the whole array
    const cap = this.options.window ?? DEFAULT_WINDOW
    if (this.window.length > cap + (cap >> 2)) {
      const dropped = this.window.splice(0, this.window.length - cap)
      this.windowFrom = dropped.at(-1)!.at + 1
    }
    const fresh = this.fresh
    this.fresh = []
    this.waiters.wake(fresh)
  }

  /**
   * This process's writer appended `records`: when nothing else was appended meanwhile (the
   * common case), they are published from what the writer knows, with one fstat and no read.
   */
  private written(segment: number, records: readonly EncodedRecord[]): void {
    const length = records.reduce((n, r) => n + r.length, 0)
    let at = records.length > 0 ? this.ensureTail().skipOwn(segment, length) : -1
    if (at < 0) return this.poll()
    for (const r of records) {
      this.publish({ at, length: r.length, crc: r.crc, record: r.record })
      at += r.length
    }
    this.published()
  }

  private retain(): void {
    try {
      applyRetention(this.dir, this.options.retentionBytes ?? 256 * 1024 * 1024)
    } catch (err) {
      this.options.logger.warn('feed retention failed', { error: (err as Error).message })
    }
  }

  private schedulePoll = (): void => {
    if (this.pollScheduled || this.closed) return
    this.pollScheduled = true
    setImmediate(() => {
      this.pollScheduled = false
      try {
        this.poll()
      } catch (err) {
        this.options.logger.error('event feed read failed', { error: (err as Error).message })
      }
    })
  }

  /** Other processes' appends: told by inotify where there is one, and a slow stat where not. */
  private ensureWatching(): void {
    if (this.statTimer !== null || this.closed) return
    try {
      this.watcher = watch(this.dir, { persistent: false }, this.schedulePoll)
      this.watcher.on('error', () => {
        this.watcher?.close()
        this.watcher = null
      })
    } catch {
      this.watcher = null // no inotify here: the stat timer alone
    }
    this.statTimer = setInterval(this.schedulePoll, this.options.statMs ?? 1000).unref()
  }

  private hasPast(cursor: FeedCursor): boolean {
    const h = this.head_
    return h !== null && (h.at > cursor.at || (h.at === cursor.at && h.lastSeq > cursor.seq))
  }

  private after(cursor: FeedCursor, max: number): HeldCommit[] {
    this.assertOpen()
    this.ensureTail()
    const out = cursor.at < this.windowFrom ? this.readBack(cursor, max) : []
    if (out.length < max) out.push(...this.windowAfter(cursor, max - out.length))
    return out
  }

  private windowAfter(cursor: FeedCursor, max: number): HeldCommit[] {
    const w = this.window
    let lo = 0
    let hi = w.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (w[mid]!.at < cursor.at) lo = mid + 1
      else hi = mid
    }
    if (lo < w.length && w[lo]!.at === cursor.at && w[lo]!.lastSeq <= cursor.seq) lo++
    return w.slice(lo, lo + max)
  }

  /** Commits between the cursor and the window, read back from the segment files. */
  private readBack(cursor: FeedCursor, max: number): HeldCommit[] {
    const out: HeldCommit[] = []
    let reader: FeedReader
    try {
      reader = new FeedReader(this.dir, cursor.at)
    } catch (err) {
      if (err instanceof SegmentExpired) throw positionGone(`${cursor.at}.${cursor.seq}`, 'expired')
      throw err
    }
    try {
      for (;;) {
        const read = reader.read(1 << 20)
        for (const r of read.records) {
          if (r.at >= this.windowFrom) return out
          if (r.record.kind !== 'commit') continue
          const rec = r.record
          if (r.at === cursor.at && rec.lastSeq <= cursor.seq) continue
          out.push(held(r as ReadRecord<CommitRecord>))
          if (out.length >= max) return out
        }
        if (read.caughtUp) return out
      }
    } catch (err) {
      if (err instanceof SegmentExpired) throw positionGone(`${cursor.at}.${cursor.seq}`, 'expired')
      throw err
    } finally {
      reader.close()
    }
  }

  private changed(cursor: FeedCursor, wake: () => void, wants: (tenant: TenantId, stream: StreamId) => boolean): void {
    this.assertOpen()
    if (this.hasPast(cursor)) return wake()
    if (this.statTimer === null) {
      // the first wait: from now on the watcher reports other processes' appends; look once for
      // what came before it (a poll per wait would cost a stat per subscriber per commit)
      this.ensureWatching()
      this.poll()
      if (this.hasPast(cursor)) return wake()
    }
    this.waiters.add(wake, wants)
  }

  /**
   * A commit's events with their positions, made once and handed to every subscriber. Another
   * process's commit may be recorded before its writer has put the bytes in the stream file (its
   * write-behind, ADR 0007): read again until they are there.
   */
  private events(c: HeldCommit, signal: AbortSignal): readonly FeedEvent[] | Promise<readonly FeedEvent[]> {
    if (c.feedEvents) return c.feedEvents
    if (c.events) return this.withPositions(c, c.events)
    return this.load(c, signal)
  }

  private withPositions(c: HeldCommit, events: readonly StoredEvent[]): readonly FeedEvent[] {
    c.feedEvents = events.map((event) => ({ position: this.source.position(c, event.seq), event }))
    c.events = null
    return c.feedEvents
  }

  private async load(c: HeldCommit, signal: AbortSignal): Promise<readonly FeedEvent[]> {
    const want = c.lastSeq - c.firstSeq + 1
    for (let attempt = 0; ; attempt++) {
      if (c.feedEvents) return c.feedEvents
      c.loading ??= this.options.readCommit(c).finally(() => (c.loading = null))
      const events = await c.loading
      if (c.feedEvents) return c.feedEvents
      if (events.length === want) return this.withPositions(c, events)
      if (signal.aborted) return []
      if (attempt === 50) {
        this.options.logger.warn('feed records events their stream file does not hold yet', {
          tenant: c.tenant,
          stream: c.stream,
          firstSeq: c.firstSeq,
          lastSeq: c.lastSeq,
          hint: 'a writer that died leaves them in its journal until the next process opens the data dir',
        })
      }
      // every 2 ms while the writer's write-behind delay (10 ms) may explain it, then backing off
      await sleep(attempt < 10 ? 2 : Math.min(100, 2 ** (attempt - 5)), undefined, { signal }).catch(() => undefined)
    }
  }

  /** 'now' is fixed at the call; anything else is checked when iteration begins. */
  private startOf(after: FeedStart): () => FeedCursor {
    this.assertOpen()
    if (after === 'now') {
      this.writer_?.flushNow() // what this process appended before the call is before 'now'
      this.poll()
      const now = { at: this.tail!.position, seq: 0 }
      return () => now
    }
    return () => {
      if (after === 'start') return { at: listSegments(this.dir)[0] ?? 0, seq: 0 }
      const p = decodePosition(after)
      if (p === null) throw badPosition(after)
      const oldest = listSegments(this.dir)[0] ?? 0
      if (after === ZERO_POSITION) {
        if (oldest > 0) throw positionGone(after, 'expired')
        return { at: 0, seq: 0 }
      }
      if (p.at < oldest) throw positionGone(after, 'expired')
      if (!this.holds(p)) throw positionGone(after, 'unknown')
      return { at: p.at, seq: p.seq }
    }
  }

  /** Whether the feed has, at `p.at`, the commit the position was made for. */
  private holds(p: { at: number; seq: number; check: number }): boolean {
    this.ensureTail()
    const inWindow = this.windowAfter({ at: p.at, seq: 0 }, 1)[0]
    let rec: { crc: number; firstSeq: number; lastSeq: number } | null = null
    if (inWindow && inWindow.at === p.at) rec = inWindow
    else {
      const start = listSegments(this.dir)
        .filter((s) => s <= p.at)
        .at(-1)
      if (start === undefined) return false
      let fd: number
      try {
        fd = openSync(segmentPath(this.dir, start), 'r')
      } catch {
        return false
      }
      try {
        const off = p.at - start
        const d = decodeFeedRecord(readRange(fd, off, off + FEED_HEADER_BYTES + MAX_FEED_PAYLOAD), 0)
        if (d.kind === 'record' && d.record.kind === 'commit') rec = { crc: d.crc, ...d.record }
      } finally {
        closeSync(fd)
      }
    }
    return rec !== null && rec.crc === p.check && p.seq >= rec.firstSeq && p.seq <= rec.lastSeq
  }

  private assertOpen(): void {
    if (this.closed) throw new ShiiooError('UNAVAILABLE', 'the event log is closed')
  }
}

function headOf(r: ReadRecord): { at: number; lastSeq: number; crc: number } {
  return { at: r.at, lastSeq: (r.record as CommitRecord).lastSeq, crc: r.crc }
}

function held(r: ReadRecord<CommitRecord>): HeldCommit {
  const rec = r.record
  return {
    at: r.at,
    tenant: rec.tenant,
    stream: rec.stream,
    firstSeq: rec.firstSeq,
    lastSeq: rec.lastSeq,
    offset: rec.offset,
    length: rec.length,
    crc: r.crc,
    events: null,
    feedEvents: null,
    lastPosition: null,
    loading: null,
  }
}
