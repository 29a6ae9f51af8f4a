import { closeSync, constants, fdatasync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { StoredEvent } from '../events/envelope.js'
import { ShiiooError } from '../errors.js'
import type { Logger } from '../ports/logger.js'
import type { CommitRecord, MemberAt } from './feed-format.js'
import { encodeFeedRecord, encodeFeedRecords } from './feed-format.js'
import { segmentPath } from './feed-segments.js'
import { writeMarker, writeMarkerAsync } from './feed-marker.js'

const fdatasyncAsync = promisify(fdatasync)

export interface FeedWriterHost {
  dir: string
  /** The newest segment's start: where records go. */
  newest(): number
  /**
   * This writer just appended `records` (encoded in that order) to the segment starting at
   * `segment`: find them in the feed (and whatever else was appended), confirming them.
   */
  written(segment: number, records: readonly EncodedRecord[]): void
  /**
   * Where the tail has read to. Every record this writer writes from now on that counts lies at
   * or after it (a record written into a segment someone sealed meanwhile is written again after).
   */
  position(): number
  segmentBytes: number
  logger: Logger
  /**
   * Whether this process may still write records: false once another process declared it gone
   * (its recovery then recorded this process's commits from its journal, so a record written
   * after that would be a duplicate). Asked just before every write.
   */
  mayWrite(): boolean
}

/** A record as written: what it says, its size and its checksum (its position's check). */
export interface EncodedRecord {
  record: CommitRecord
  length: number
  crc: number
}

/** Pending records are written at once when this many wait. */
const MAX_PENDING = 256

/**
 * How long due records wait past `delayMs` for a journal write to write them on its identity
 * check (flushChecked) before their timer writes them with a check of its own: in a busy spell
 * the journal writes every few hundred microseconds, so the timer rarely has to.
 */
const CHECKED_GRACE_MS = 1

/**
 * This process's side of the feed: a commit record per durable commit, appended with O_APPEND
 * (the kernel puts each write whole at the end, whoever else appends). A write does not say
 * where it landed; the process's tail reader finds its records by writer id and count, gives them
 * their positions and hands their events (kept here until then) to subscribers.
 *
 * Records are written shortly after their commits are acknowledged, not before: at the end of the
 * turn after a quiet spell, else at most one write per `delayMs` (5 ms) for all that came since,
 * made by the first journal write after that (on the identity check the journal makes anyway, see
 * flushChecked) or, when none comes within CHECKED_GRACE_MS (1 ms), by a timer. Measured here, an
 * append to a file between two O_DSYNC journal writes makes the second 60-80 us slower (p50 0.19
 * -> 0.25 ms in a loop of both), and a record write before every acknowledgement put the
 * sequential append p50 0.1 ms above the fsync floor; a short delay shares that cost among the
 * commits of a few milliseconds. Each write also costs a wake-up of the tail (its own inotify
 * event) and of the engine's watch: with 2 ms, a sequential 10-step run (11 commits in about 4.5
 * ms) made 3-5 writes; 5 ms made it about 7% faster in alternating pairs (ADR 0008, "When a record
 * is written"). Nothing is lost by it:
 * the records of a stream are written before its lock goes to another process (`flushNow`, from
 * the log's settle hook), so per-stream order holds across processes; a process killed before
 * writing them leaves its commits in its journal, and recovery records them (reconcileFeed).
 *
 * The feed is not fsynced per write either: it is fsynced every `syncMs` (5 s) and before each journal
 * checkpoint; after each fsync a marker (`<writer>.sync`) says up to where this writer's records
 * are durable, so that recovery checks only the records after it.
 */
export class FeedWriter {
  private queue: CommitRecord[] = []
  private flushTimer: { cancel(): void } | null = null
  /** When the last write was made (performance.now): writes are at most one per `delayMs`. */
  private lastFlush = -Infinity
  private count = 0
  /** Open segments by start: the newest (written to), and older ones until they are fsynced. */
  private readonly fds = new Map<number, number>()
  private current = -1
  /** Segments written since their last fsync. */
  private dirty = new Set<number>()
  /** Records not yet seen by the tail (written or not), by count: their events, and their key for the marker. */
  private readonly unconfirmed = new Map<number, { events: readonly StoredEvent[]; key: string }>()
  /** The key of the last record of the unbroken run of seen records from the first (see markable). */
  private lastConfirmed: string | null = null
  /** Every record up to this count has been seen by the tail. */
  private confirmedThrough = -1
  /** Records seen ahead of one not seen yet (their keys): none in practice, see take. */
  private readonly seenAhead = new Map<number, string>()
  private failed: ShiiooError | null = null
  /** Whether a journal calls flushChecked after its writes (then due records wait a little for one). */
  private journalChecks = false
  private syncing: Promise<void> | null = null
  private readonly timer: NodeJS.Timeout

  constructor(
    readonly id: string,
    private readonly host: FeedWriterHost,
    private readonly options: { syncMs: number; delayMs: number },
  ) {
    this.timer = setInterval(() => void this.syncInBackground(), options.syncMs).unref()
  }

  /** Set once a record could not be written: appends stop (the log checks) until a restart recovers. */
  get failure(): ShiiooError | null {
    return this.failed
  }

  /** Records a durable commit; its record is written within `delayMs` (see the class comment). */
  record(events: readonly StoredEvent[], member: MemberAt): void {
    const first = events[0]!
    const last = events.at(-1)!
    const n = this.count++
    this.queue.push({
      kind: 'commit',
      tenant: first.tenant,
      stream: first.stream,
      firstSeq: first.seq,
      lastSeq: last.seq,
      offset: member.offset,
      length: member.length,
      writer: this.id,
      n,
    })
    this.unconfirmed.set(n, { events, key: `${first.tenant} ${first.stream} ${last.seq}` })
    if (this.queue.length >= MAX_PENDING) this.flushNow()
    else if (this.flushTimer === null) {
      // a commit after a quiet spell is recorded in this turn's end; a busy stream of them shares
      // a write per `delayMs`
      const wait = this.lastFlush + this.options.delayMs - performance.now()
      if (wait <= 0) {
        const immediate = setImmediate(this.onTimer)
        this.flushTimer = { cancel: () => clearImmediate(immediate) }
      } else {
        // a journal write within the grace writes them on its identity check (see flushChecked)
        const timeout = setTimeout(this.onTimer, wait + (this.journalChecks ? CHECKED_GRACE_MS : 0))
        this.flushTimer = { cancel: () => clearTimeout(timeout) }
      }
    }
  }

  /**
   * Writes the pending records now: before a stream's lock goes to another process, before a
   * checkpoint, at close. A failure is kept (see `failure`) and not thrown: their commits are
   * durable, and recovery records them.
   */
  readonly flushNow = (): void => this.flush(true)

  /** The timer's (or immediate's) flush: it has fired, so there is nothing to cancel. */
  private readonly onTimer = (): void => {
    this.flushTimer = null
    this.flush(true)
  }

  /**
   * Called by the journal right after one of its writes passed the identity check (`mayWrite`'s
   * question), in the same synchronous stretch: the records whose delay is up are written now,
   * on that check, instead of at their timer with a check of their own. It answers the same
   * question at the same moment relative to the write, so a process declared gone still writes
   * none (a pause between the check and the write is as possible as before, and no longer).
   */
  flushChecked(): void {
    this.journalChecks = true
    if (this.queue.length === 0 || performance.now() < this.lastFlush + this.options.delayMs) return
    this.flush(false)
  }

  /** `check`: ask `mayWrite` first (false only right after the journal asked, see flushChecked). */
  private flush(check: boolean): void {
    this.flushTimer?.cancel()
    this.flushTimer = null
    if (this.queue.length === 0 || this.failed) return
    this.lastFlush = performance.now()
    const batch = this.queue
    this.queue = []
    if (check && !this.host.mayWrite()) return this.abandon()
    try {
      const { bytes, lengths, crcs } = encodeFeedRecords(batch)
      this.write(bytes)
      this.host.written(
        this.current,
        batch.map((record, i) => ({ record, length: lengths[i]!, crc: crcs[i]! })),
      )
      this.sealIfFull()
    } catch (err) {
      this.failed = new ShiiooError(
        'UNAVAILABLE',
        `the event feed could not be written (${(err as Error).message}); appends stop until the process restarts and recovery records what is missing`,
      )
      this.host.logger.error('event feed write failed', { error: (err as Error).message })
    }
  }

  /**
   * This process was declared gone: the process that did so recorded its commits from its journal
   * (reconcileFeed), so it writes no record more. Appends stop too (the log's identity is lost).
   */
  abandon(): void {
    this.flushTimer?.cancel()
    this.flushTimer = null
    this.queue = []
    this.failed ??= new ShiiooError(
      'LEASE_LOST',
      'this process was declared gone by another: the feed records of its commits were written by that process',
    )
  }

  /** The events of this writer's record `n`, once the tail has found it (null if not ours or taken). */
  take(n: number): readonly StoredEvent[] | null {
    const own = this.unconfirmed.get(n)
    if (!own) return null
    this.unconfirmed.delete(n)
    // records are written and read in count order (a void one is written again before any new one)
    if (n !== this.confirmedThrough + 1) this.seenAhead.set(n, own.key)
    else {
      this.confirmedThrough = n
      this.lastConfirmed = own.key
      for (let k = this.seenAhead.get(n + 1); k !== undefined; k = this.seenAhead.get(this.confirmedThrough + 1)) {
        this.seenAhead.delete(++this.confirmedThrough)
        this.lastConfirmed = k
      }
    }
    return own.events
  }

  /** Writes records the tail found after a seal (void) again, in the segment that follows it. */
  rewrite(records: readonly CommitRecord[]): void {
    const mine = records.filter((r) => r.writer === this.id && this.unconfirmed.has(r.n))
    if (mine.length > 0 && !this.host.mayWrite()) return this.abandon()
    if (mine.length > 0) this.write(Buffer.concat(mine.map(encodeFeedRecord)))
  }

  private write(bytes: Buffer): void {
    const fd = this.target()
    const done = writeSync(fd, bytes)
    this.dirty.add(this.current)
    // a second write could land after another process's record: a short write is a failure
    if (done !== bytes.length) throw new Error(`short write to the feed (${done} of ${bytes.length} bytes)`)
  }

  /** The newest segment, opened for appending; older ones stay open until they are fsynced. */
  private target(): number {
    const newest = this.host.newest()
    const open = this.fds.get(newest)
    if (open !== undefined && newest === this.current) return open
    const fd = open ?? openSync(segmentPath(this.host.dir, newest), constants.O_WRONLY | constants.O_APPEND)
    this.fds.set(newest, fd)
    this.current = newest
    return fd
  }

  /**
   * A full segment gets a seal record; the first seal in a file ends it (see FeedReader). Judged
   * by where the tail has read to in it (no syscall); a tail still in an older segment decides later.
   */
  private sealIfFull(): void {
    if (this.host.position() - this.current < this.host.segmentBytes) return
    this.write(encodeFeedRecord({ kind: 'seal', writer: this.id }))
    this.host.written(this.current, [])
  }

  /**
   * What a marker may claim: the tail's position P, and the last record K of the unbroken run of
   * records it has seen. Those lie before P; every record after K is not written yet, or not yet
   * seen, so it lies at P or after (a record that landed after a seal is written again later).
   * Null if some record was seen ahead of one that was not (then that claim would not hold).
   */
  private markable(): { end: number; last: string | null } | null {
    if (this.seenAhead.size > 0) return null
    return { end: this.host.position(), last: this.lastConfirmed }
  }

  /** The fsync of every segment written since the last one, off the main thread, then the marker. */
  private async syncInBackground(): Promise<void> {
    if (this.syncing || this.dirty.size === 0 || this.failed) return
    const mark = this.markable()
    if (mark === null) return // records in flight: next time
    const starts = [...this.dirty]
    this.dirty.clear()
    this.syncing = (async () => {
      try {
        for (const s of starts) await fdatasyncAsync(this.fds.get(s)!)
        await writeMarkerAsync(this.markerPath, mark)
      } catch (err) {
        this.host.logger.error('event feed fsync failed', { error: (err as Error).message })
        for (const s of starts) this.dirty.add(s) // again next time
        return
      }
      this.closeOld()
    })().finally(() => (this.syncing = null))
    await this.syncing
  }

  /** Makes every record written so far durable now (before a journal checkpoint drops their commits). */
  syncNow(): void {
    this.flushNow()
    const mark = this.markable()
    // every open segment, not just the dirty ones: a background fsync may still be on its way
    for (const fd of this.fds.values()) fdatasyncSync(fd)
    this.dirty.clear()
    if (this.syncing === null) this.closeOld()
    if (mark) writeMarker(this.markerPath, mark)
  }

  private get markerPath(): string {
    return join(this.host.dir, `${this.id}.sync`)
  }

  /** Closes segments other than the newest that have nothing left to fsync. */
  private closeOld(): void {
    for (const [start, fd] of this.fds) {
      if (start === this.current || this.dirty.has(start)) continue
      closeSync(fd)
      this.fds.delete(start)
    }
  }

  /**
   * At the log's close. `clean`: the journal was checkpointed and removed, so every commit is in
   * its stream file; the records are fsynced and the marker goes (nothing to reconcile).
   */
  async close(clean: boolean): Promise<void> {
    clearInterval(this.timer)
    this.flushNow()
    await this.syncing
    if (clean && this.failed === null) {
      this.syncNow()
      try {
        unlinkSync(this.markerPath)
      } catch {
        // never written
      }
    }
    for (const fd of this.fds.values()) closeSync(fd)
    this.fds.clear()
    this.dirty.clear()
  }
}
