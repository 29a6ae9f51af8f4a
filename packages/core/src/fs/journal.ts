import { randomBytes } from 'node:crypto'
import {
  close,
  constants,
  fdatasync,
  fsync,
  open,
  readdir,
  readdirSync,
  rename,
  stat,
  unlink,
  writev,
  writevSync,
} from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ShiiooError } from '../errors.js'
import type { Logger } from '../ports/logger.js'
import { DirSyncer, ensureDurableDir, fsyncDir } from './durable.js'
import { FileLock, liveOwnerOf } from './file-lock.js'
import type { LockIdentity } from './lock-identity.js'
import { sweepDeadIdentities } from './lock-identity.js'
import type { JournalEntry } from './journal-format.js'
import { SPARE_FILE, encodeRecord, segmentId } from './journal-format.js'
import type { RecoveryReport } from './journal-recovery.js'
import { OWNER_LOCK, SEGMENT_FILE, recoverOrphans } from './journal-recovery.js'
import { writeFully } from './stream-file.js'
import type { RecoveryPoints } from './recovery-points.js'
import { PointsWriter } from './recovery-points.js'

const openAsync = promisify(open)
const closeAsync = promisify(close)
const writevAsync = promisify(writev)
const renameAsync = promisify(rename)
const readdirAsync = promisify(readdir)
const statAsync = promisify(stat)
const fsyncAsync = promisify(fsync)
const fdatasyncAsync = promisify(fdatasync)
const unlinkAsync = promisify(unlink)

/**
 * A journal write (O_DSYNC) is made on the main thread while the disk answers within this time:
 * on this class of machine a round trip through the threadpool costs more than a fast write (two
 * thread wake-ups), and commits that arrive meanwhile simply join the next write. A slower disk
 * gets its writes off the main thread, so one slow write does not stall everything else.
 */
const SYNC_BELOW_MS = 1

/** Checkpointed segments kept for reuse (see createSegment). */
const MAX_SPARES = 2

export interface JournalOptions {
  dataDir: string
  logger: Logger
  /** Size a segment is preallocated to; a full segment is checkpointed and deleted. */
  segmentBytes?: number
  /** How long after a segment is sealed its checkpoint runs (see checkpointSealed). */
  checkpointDelayMs?: number
  /**
   * Locks taken as links to this identity: atomic, so a process killed while taking one leaves
   * no half-written lock that others must wait out.
   */
  identity?: LockIdentity
  /**
   * Called right after a write's identity check passed (when `identity` is set), before its commits
   * are acknowledged: the event log writes the feed records that are due on that check.
   */
  afterCheckedWrite?: () => void
  /** Called before a checkpoint fsyncs stream files: they must hold every commit it covers. */
  beforeCheckpoint?: () => void
  /**
   * Where a checkpoint records how far each stream it made durable was acknowledged, before its
   * segment goes (the segment was what covered those bytes until then).
   */
  points?: RecoveryPoints
}

interface Segment {
  n: number
  /** Written in every record header (see segmentId). */
  id: number
  /** The delayed checkpoint of a sealed segment. */
  timer?: NodeJS.Timeout | null
  path: string
  fd: number
  pos: number
  /** Stream files with commits in this segment: fsynced before the segment is deleted. */
  files: Set<string>
  /** Directories that got new stream files: fsynced too. */
  dirs: Set<string>
  /** Each stream's end and version after its last commit in this segment (its recovery point at checkpoint). */
  ends: Map<string, JournalEntry>
}

interface Queued {
  entry: JournalEntry
  path: string
  newIn: string | null
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * The shared write-ahead journal: one fsync makes the commits of many streams durable. A commit's
 * bytes are written to its stream file (page cache only) and then to the journal, whose write is
 * durable (O_DSYNC, into a preallocated segment, so the disk need not update the file's size).
 * Commits from every stream that arrive while a journal write is on the disk share the next one.
 * A full segment is checkpointed: the stream files it names are fsynced, then it is deleted.
 * After a failed write nobody knows what the disk kept, so every later commit fails until the
 * process restarts and recovery settles it (ADR 0007).
 *
 * One journal per process (owner), under `journal/`, locked by an owner lock file. At open, the
 * journals of owners that are gone are replayed into the stream files (see recoverOrphans).
 */
export class Journal {
  private current: Segment | null = null
  /** The first segment, made in the background at open (a sparse file, two fsyncs). */
  private first: Promise<Segment> | null = null
  private lock: FileLock | null = null
  private next: Promise<Segment> | null = null
  private queue: Queued[] = []
  private writing: Promise<void> | null = null
  private scheduled = false
  private held = false
  private failed: ShiiooError | null = null
  private readonly checkpoints = new Set<Promise<void>>()
  /** Full segments waiting for their checkpoint. */
  private readonly sealed = new Set<Segment>()
  private readonly dirs = new DirSyncer()
  /** Moving average of a journal write's time (see SYNC_BELOW_MS). */
  private writeMs = 0

  /** This process's recovery points (see RecoveryPoints): a checkpoint's, and the event log's own. */
  readonly points: PointsWriter | null

  private constructor(
    private readonly dir: string,
    readonly owner: string,
    private readonly options: JournalOptions,
    readonly recovered: RecoveryReport,
  ) {
    this.points = options.points
      ? new PointsWriter(options.points, owner, { sync: false, logger: options.logger })
      : null
  }

  static async open(options: JournalOptions): Promise<Journal> {
    const dir = join(options.dataDir, 'journal')
    ensureDurableDir(dir)
    const { identity } = options
    const recovery = new FileLock(join(dir, 'recovery.lock'), { timeoutMs: 120_000, ...(identity ? { identity } : {}) })
    await recovery.acquire()
    try {
      const owner = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`
      const report = recoverOrphans(dir, options.dataDir, owner, options.logger, identity, options.points)
      sweepDeadIdentities(join(options.dataDir, 'locks'))
      options.points?.merge(liveOwners(dir, join(options.dataDir, 'locks'), owner), options.logger)
      const journal = new Journal(dir, owner, options, report)
      // the first segment is made while the process starts up, not in its first commit's way
      journal.first = journal.start()
      journal.first.catch(() => {}) // a failure shows in the first commit
      return journal
    } finally {
      recovery.release()
    }
  }

  /**
   * For a process that only reads: replays the journals of owners that are gone, as opening a
   * journal does, but only when there are any. With none, it creates, renames and locks nothing:
   * reading a data dir leaves it as it was.
   */
  static async recoverForReading(
    options: Pick<JournalOptions, 'dataDir' | 'logger' | 'identity' | 'points'>,
  ): Promise<RecoveryReport> {
    const dir = join(options.dataDir, 'journal')
    if (!hasOrphans(dir, join(options.dataDir, 'locks'))) return { owners: 0, entries: 0, repaired: 0 }
    const { identity } = options
    const recovery = new FileLock(join(dir, 'recovery.lock'), { timeoutMs: 120_000, ...(identity ? { identity } : {}) })
    await recovery.acquire()
    try {
      return recoverOrphans(dir, options.dataDir, '', options.logger, identity, options.points)
    } finally {
      recovery.release()
    }
  }

  /** This journal's owner name (`journal/<owner>.<n>.wal`). */
  get ownerId(): string {
    return this.owner
  }

  private get segmentBytes(): number {
    return this.options.segmentBytes ?? 8 * 1024 * 1024
  }

  /** Set once a journal write failed: every append fails from then on (see the class comment). */
  get failure(): ShiiooError | null {
    return this.failed
  }

  /**
   * Makes `entry` (already written to `path` at entry.offset) durable. `newIn` names the directory
   * when the stream file is new, so the checkpoint makes its directory entry durable as well.
   */
  commit(entry: JournalEntry, path: string, newIn: string | null): Promise<void> {
    if (this.failed) return Promise.reject(this.failed)
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ entry, path, newIn, resolve, reject })
      if (this.held) return // the holder writes it when it releases
      if (this.writing === null && !this.scheduled) {
        this.scheduled = true
        // commits of other streams made in this turn of the event loop join this write
        setImmediate(() => {
          this.scheduled = false
          this.startDrain()
        })
      }
    })
  }

  /** Commits made until `release` wait for it: the event log hands over a whole turn's commits. */
  hold(): void {
    this.held = true
  }

  /** Writes what was committed since `hold`, now (unless a write is already on the disk). */
  release(): void {
    this.held = false
    if (!this.scheduled) this.startDrain()
  }

  /** Starts writing the queue unless a write is under way (its loop takes what is queued). */
  private startDrain(): void {
    // with a non-empty queue, drain suspends at its first write before it could reset `writing`
    if (this.writing !== null || this.queue.length === 0) return
    this.writing = this.drain()
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0)
        try {
          await this.writeBatch(batch)
          for (const q of batch) q.resolve()
        } catch (err) {
          this.failed ??=
            err === this.options.identity?.lost.reason
              ? (err as ShiiooError)
              : new ShiiooError(
                  'UNAVAILABLE',
                  `the event journal could not be written (${(err as Error).message}); appends stop until the process restarts and recovers it`,
                  // not in this process: retrying cannot cure it
                  { retryable: false },
                )
          this.options.logger.error('event journal failed', { error: (err as Error).message })
          for (const q of [...batch, ...this.queue.splice(0)]) q.reject(this.failed)
        }
      }
    } finally {
      this.writing = null // in the same turn as the loop's last look at the queue
    }
  }

  private async writeBatch(batch: Queued[]): Promise<void> {
    let seg = this.current ?? (await this.begin())
    const id = seg.id
    const parts = batch.flatMap((q) => encodeRecord(id, q.entry))
    const size = parts.reduce((n, r) => n + r.length, 0)
    if (seg.pos > 0 && seg.pos + size > this.segmentBytes) {
      seg = await this.rotate(seg)
      // the record headers name the segment; the CRC covers the payload only
      for (let i = 0; i < parts.length; i += 2) parts[i]!.writeUInt32LE(seg.id, 4)
    }
    const started = performance.now()
    let done: number
    if (this.writeMs < SYNC_BELOW_MS) {
      done = writevSync(seg.fd, parts, seg.pos)
      if (done < size) writeFully(seg.fd, Buffer.concat(parts).subarray(done), seg.pos + done)
    } else {
      done = (await writevAsync(seg.fd, parts, seg.pos)).bytesWritten
      if (done < size) writeFully(seg.fd, Buffer.concat(parts).subarray(done), seg.pos + done)
    }
    this.writeMs = this.writeMs * 0.9 + (performance.now() - started) * 0.1
    // a holder declared gone (paused past its TTL) must not acknowledge: the process that declared
    // it replays only what was written before, and writes on after (see recoverOrphans)
    const { identity } = this.options
    if (identity) {
      identity.assertHeld()
      this.options.afterCheckedWrite?.()
    }
    seg.pos += size
    for (const q of batch) {
      seg.files.add(q.path)
      seg.ends.set(q.path, q.entry)
      if (q.newIn !== null) seg.dirs.add(q.newIn)
    }
  }

  /** The first commit: the first segment becomes current and the next one is started. */
  private async begin(): Promise<Segment> {
    const seg = await (this.first ??= this.start())
    this.current = seg
    // a new file is filled with zeros, which should happen before the disk is busy with this
    // process's commits, not in the middle of them
    this.next ??= this.createSegment(seg.n + 1)
    this.next.catch(() => {}) // a failure shows when the segment is needed
    return seg
  }

  /** Takes this process's owner lock and creates its first segment. */
  private async start(): Promise<Segment> {
    const { identity } = this.options
    const lock = new FileLock(join(this.dir, `${this.owner}.lock`), identity ? { identity } : {})
    if (!lock.tryAcquire()) throw new ShiiooError('INTERNAL', `journal owner ${this.owner} is taken`)
    this.lock = lock
    return this.createSegment(1)
  }

  /** Seals a full segment (checkpointed in the background) and returns the next one. */
  private async rotate(sealed: Segment): Promise<Segment> {
    const seg = await (this.next ?? this.createSegment(sealed.n + 1))
    this.current = seg
    this.next = this.createSegment(seg.n + 1)
    this.next.catch(() => {}) // a failure shows when the segment is needed
    this.sealed.add(sealed)
    const timer = setTimeout(() => void this.checkpointSealed(sealed), this.options.checkpointDelayMs ?? 30_000)
    timer.unref()
    sealed.timer = timer
    return seg
  }

  /**
   * Checkpoints a sealed segment, some time after it was sealed: by then the kernel has written
   * most of its streams' pages and committed their metadata on its own, so the fsyncs find little
   * to do, instead of forcing a filesystem journal commit each while commits are being made (which
   * holds up every file creation and append meanwhile).
   */
  private checkpointSealed(seg: Segment): Promise<void> {
    if (seg.timer) clearTimeout(seg.timer)
    seg.timer = null
    if (!this.sealed.delete(seg)) return Promise.resolve()
    const cp = this.checkpoint(seg).finally(() => this.checkpoints.delete(cp))
    this.checkpoints.add(cp)
    return cp
  }

  /**
   * A segment whose blocks are all written (zeros, or an older segment's records): writing into it
   * changes no file metadata, so an O_DSYNC write is a data write alone and does not force the
   * filesystem's journal to commit (which would hold up every file creation meanwhile). A spare
   * left by a checkpoint is renamed into place; otherwise a new file is filled with zeros. Old
   * records in a reused file carry another segment id, so they end the segment where ours end.
   */
  private async createSegment(n: number): Promise<Segment> {
    this.options.identity?.assertHeld()
    const path = join(this.dir, `${this.owner}.${n}.wal`)
    const reused = await this.takeSpare(path)
    const flags = constants.O_RDWR | constants.O_DSYNC | (reused ? 0 : constants.O_CREAT | constants.O_EXCL)
    const fd = await openAsync(path, flags, 0o600)
    if (!reused) {
      const zeros = Buffer.alloc(1 << 20)
      for (let at = 0; at < this.segmentBytes; at += zeros.length) {
        await writevAsync(fd, [zeros.subarray(0, Math.min(zeros.length, this.segmentBytes - at))], at)
      }
      await fsyncAsync(fd)
    }
    await this.dirs.sync(this.dir)
    return { n, id: segmentId(this.owner, n), path, fd, pos: 0, files: new Set(), dirs: new Set(), ends: new Map() }
  }

  /** Renames a spare segment to `path`; false when there is none. */
  private async takeSpare(path: string): Promise<boolean> {
    for (const name of await readdirAsync(this.dir)) {
      if (!SPARE_FILE.test(name)) continue
      const spare = join(this.dir, name)
      try {
        if ((await statAsync(spare)).size !== this.segmentBytes) {
          await unlinkAsync(spare) // made for another segment size
          continue
        }
        await renameAsync(spare, path)
        return true
      } catch {
        // taken by another process meanwhile: try the next
      }
    }
    return false
  }

  /** Makes the segment's stream files durable on their own, then keeps it as a spare or deletes it. */
  private async checkpoint(seg: Segment): Promise<void> {
    try {
      this.options.beforeCheckpoint?.()
      const files = [...seg.files]
      for (let i = 0; i < files.length; i += 8) {
        await Promise.all(files.slice(i, i + 8).map(syncFile))
      }
      for (const d of seg.dirs) fsyncDir(d)
      // the streams' points replace the segment as what says how far they were acknowledged
      const points = [...seg.ends.values()].map((e) => ({ ...e, end: e.offset + e.bytes.length }))
      if (this.points !== null && !this.points.write(points, true)) {
        throw new Error('recovery points could not be written')
      }
      await closeAsync(seg.fd)
      await this.retire(seg.path)
    } catch (err) {
      // the segment stays; the next process to open the log replays it
      this.options.logger.error('journal checkpoint failed', { segment: seg.path, error: (err as Error).message })
    }
  }

  /**
   * Keeps a segment file that is no longer needed as a spare, or deletes it. A rename lost in a
   * crash leaves the old name: the segment is then replayed (its streams are already durable, so
   * that changes nothing) and deleted.
   */
  private async retire(path: string): Promise<void> {
    const spares = (await readdirAsync(this.dir)).filter((f) => SPARE_FILE.test(f)).length
    if (spares < MAX_SPARES) await renameAsync(path, join(this.dir, `spare-${randomBytes(6).toString('hex')}.wal`))
    else await unlinkAsync(path)
  }

  /** Waits for queued commits, checkpoints everything and removes this process's journal. */
  async close(): Promise<void> {
    while (this.writing !== null || this.scheduled) await (this.writing ?? new Promise((r) => setImmediate(r)))
    if (this.options.identity && !this.options.identity.held()) {
      // declared gone (asked now: a process woken from a pause may not have noticed yet): the
      // process that took over owns these files now (it replayed and removed them)
      const segs = [this.current, await this.first?.catch(() => null), await this.next?.catch(() => null)]
      for (const seg of this.sealed) {
        if (seg.timer) clearTimeout(seg.timer)
        segs.push(seg)
      }
      this.sealed.clear()
      for (const seg of new Set(segs)) if (seg) await closeAsync(seg.fd).catch(() => undefined)
      this.closePoints()
      return
    }
    await Promise.all([...this.sealed].map((seg) => this.checkpointSealed(seg)))
    await Promise.all(this.checkpoints)
    // the first segment's making also starts the next one: let it get that far
    if (this.current === null && this.first) this.current = await this.first.catch(() => null)
    const next = await this.next?.catch(() => null)
    if (next) {
      await closeAsync(next.fd)
      await this.retire(next.path) // never written: a spare as it is
    }
    if (this.failed === null && this.current !== null) {
      await this.checkpoint(this.current)
      this.current = null
      this.lock?.release()
    }
    this.closePoints()
  }

  private closePoints(): void {
    try {
      this.points?.close()
    } catch (err) {
      this.options.logger.error('recovery points could not be closed', { error: (err as Error).message })
    }
  }
}

/** The journal owners whose process is alive (their owner lock is held), this one included. */
function liveOwners(dir: string, locks: string, self: string): Set<string> {
  const live = new Set([self])
  for (const name of readdirSync(dir)) {
    const owner = OWNER_LOCK.exec(name)?.[1]
    if (owner !== undefined && liveOwnerOf(join(dir, name), locks) !== null) live.add(owner)
  }
  return live
}

/** Whether `dir` holds a journal segment whose owner is gone (no live owner lock): one to replay. */
function hasOrphans(dir: string, locksDir: string): boolean {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return false // no journal folder: no process ever wrote here
  }
  const owners = new Set<string>()
  for (const name of names) {
    const owner = SEGMENT_FILE.exec(name)?.[1]
    if (owner !== undefined) owners.add(owner)
  }
  for (const owner of owners) if (liveOwnerOf(join(dir, `${owner}.lock`), locksDir) === null) return true
  return false
}

async function syncFile(path: string): Promise<void> {
  let fd: number
  try {
    fd = await openAsync(path, constants.O_RDONLY)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // deleted since: nothing to keep
    throw err
  }
  try {
    await fdatasyncAsync(fd)
  } finally {
    await closeAsync(fd)
  }
}
