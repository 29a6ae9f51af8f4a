import { closeSync, constants, fdatasync, fdatasyncSync, fstatSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { StoredEvent } from '../events/envelope.js'
import { ShiiooError } from '../errors.js'
import type { Logger } from '../ports/logger.js'
import type { CommitRecord, MemberAt } from './feed-format.js'
import { encodeFeedRecord } from './feed-format.js'
import { segmentPath } from './feed-segments.js'
import { writeMarker, writeMarkerAsync } from './feed-marker.js'

const fdatasyncAsync = promisify(fdatasync)

export interface FeedWriterHost {
  dir: string
  /** The newest segment's start: where records go. */
  newest(): number
  /** Reads what was appended (confirming this writer's records, handing back void ones). */
  poll(): void
  /**
   * Where the tail has read to. Every record this writer writes from now on that counts lies at
   * or after it (a record written into a segment someone sealed meanwhile is written again after).
   */
  position(): number
  segmentBytes: number
  logger: Logger
}

interface Queued {
  record: CommitRecord
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * This process's side of the feed: a commit record per durable commit, all records of a turn in
 * one O_APPEND write (the kernel puts each write whole at the end, whoever else appends). A write
 * does not say where it landed; the process's tail reader finds its records by writer id and
 * count, gives them their positions and hands their events (kept here until then) to subscribers.
 *
 * The feed is not fsynced per commit: the journal makes commits durable, and a record lost in a
 * machine crash is written again by journal recovery (reconcileFeed). It is fsynced every
 * `syncMs` and before each journal checkpoint; after each fsync a marker (`<writer>.sync`) says
 * up to where this writer's records are durable, so that recovery checks only the records after it.
 */
export class FeedWriter {
  private queue: Queued[] = []
  private scheduled = false
  private count = 0
  /** Open segments by start: the newest (written to), and older ones until they are fsynced. */
  private readonly fds = new Map<number, number>()
  private current = -1
  /** Segments written since their last fsync. */
  private dirty = new Set<number>()
  /** Records written and not yet seen by the tail, by count: their events, and their key for the marker. */
  private readonly unconfirmed = new Map<number, { events: readonly StoredEvent[]; key: string }>()
  private lastConfirmed: string | null = null
  private failed: ShiiooError | null = null
  private syncing: Promise<void> | null = null
  private readonly timer: NodeJS.Timeout

  constructor(
    readonly id: string,
    private readonly host: FeedWriterHost,
    syncMs: number,
  ) {
    this.timer = setInterval(() => void this.syncInBackground(), syncMs).unref()
  }

  get failure(): ShiiooError | null {
    return this.failed
  }

  /**
   * Records a durable commit. Resolves once its record is written (the commit may then be
   * acknowledged); records of the same turn share one write.
   */
  record(events: readonly StoredEvent[], member: MemberAt): Promise<void> {
    if (this.failed) return Promise.reject(this.failed)
    const first = events[0]!
    const last = events.at(-1)!
    const n = this.count++
    const record: CommitRecord = {
      kind: 'commit',
      tenant: first.tenant,
      stream: first.stream,
      firstSeq: first.seq,
      lastSeq: last.seq,
      offset: member.offset,
      length: member.length,
      writer: this.id,
      n,
    }
    this.unconfirmed.set(n, { events, key: `${first.tenant} ${first.stream} ${last.seq}` })
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject })
      if (this.scheduled) return
      this.scheduled = true
      // The journal resolves a whole batch of commits in one go and each continues in a microtask:
      // a microtask queued by the first runs after all of them have queued their records.
      queueMicrotask(this.flush)
    })
  }

  /** The events of this writer's record `n`, once the tail has found it (null if not ours or taken). */
  take(n: number): readonly StoredEvent[] | null {
    const own = this.unconfirmed.get(n)
    if (!own) return null
    this.unconfirmed.delete(n)
    this.lastConfirmed = own.key
    return own.events
  }

  /** Writes records the tail found after a seal (void) again, in the segment that follows it. */
  rewrite(records: readonly CommitRecord[]): void {
    const mine = records.filter((r) => r.writer === this.id && this.unconfirmed.has(r.n))
    if (mine.length > 0) this.write(Buffer.concat(mine.map(encodeFeedRecord)))
  }

  private readonly flush = (): void => {
    this.scheduled = false
    const batch = this.queue.splice(0)
    try {
      if (this.failed) throw this.failed
      this.write(Buffer.concat(batch.map((q) => encodeFeedRecord(q.record))))
      this.host.poll()
      this.sealIfFull()
    } catch (err) {
      this.failed ??= new ShiiooError(
        'UNAVAILABLE',
        `the event feed could not be written (${(err as Error).message}); appends stop until the process restarts and recovery records what is missing`,
      )
      this.host.logger.error('event feed write failed', { error: (err as Error).message })
      for (const q of batch) q.reject(this.failed)
      return
    }
    for (const q of batch) q.resolve()
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

  /** A full segment gets a seal record; the first seal in a file ends it (see FeedReader). */
  private sealIfFull(): void {
    const fd = this.fds.get(this.current)
    if (fd === undefined || fstatSync(fd).size < this.host.segmentBytes) return
    this.write(encodeFeedRecord({ kind: 'seal', writer: this.id }))
    this.host.poll()
  }

  /**
   * What a marker may claim: the tail's position and this writer's last record, when the tail has
   * seen every record it wrote (all of them lie before that position). Null while some are not.
   */
  private markable(): { end: number; last: string | null } | null {
    if (this.unconfirmed.size > 0) return null
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
