import { randomBytes } from 'node:crypto'
import { existsSync, ftruncateSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { NewEvent, StoredEvent } from '../events/envelope.js'
import type { EventCatalog } from '../events/envelope.js'
import { defaultCatalog, validateNewEvent } from '../events/envelope.js'
import { ShiiooError, toShiiooError } from '../errors.js'
import type { StreamId, TenantId } from '../ids.js'
import { parseStreamId, parseTenantId } from '../ids.js'
import type {
  AppendListener,
  AppendRequest,
  AppendResult,
  EventLog,
  ListStreamsRequest,
  ReadRequest,
  StreamInfo,
} from '../ports/event-log.js'
import type { Logger } from '../ports/logger.js'
import { silentLogger } from '../ports/logger.js'
import { DirSyncer, ensureDurableDir } from './durable.js'
import type { Outcome, Pending } from './append-plan.js'
import { planAppends } from './append-plan.js'
import { FileLock, liveOwnerOf } from './file-lock.js'
import { FsLeaseGrant, FsLeases } from './fs-leases.js'
import { LockIdentity } from './lock-identity.js'
import { readOwner } from './owners.js'
import { Journal } from './journal.js'
import type { RecoveryReport } from './journal-recovery.js'
import { recoverOrphans } from './journal-recovery.js'
import { encodeMember } from './gzip-members.js'
import { streamPath } from './paths.js'
import { listStreamFiles, listTenants } from './stream-listing.js'
import { WriteBehind } from './write-behind.js'
import type { MemberAt } from './feed-format.js'
import type { FeedCommitAt } from './fs-feed.js'
import { FsFeed } from './fs-feed.js'
import type { Handle } from './stream-handles.js'
import { StreamHandles } from './stream-handles.js'
import {
  decodeStreamBytes,
  fdatasyncAsync,
  pastPointProblem,
  pointProblem,
  openStreamFile,
  readFileRange,
  readStreamFile,
  refreshState,
  storedFingerprint,
  writeFully,
} from './stream-file.js'
import type { DecodedLines } from './stream-file.js'
import { PointsWriter, RecoveryPoints } from './recovery-points.js'

export interface FsEventLogOptions {
  dataDir: string
  logger?: Logger
  /** Stream files kept open for appending at once; idle ones beyond this are closed. */
  maxOpenStreams?: number
  /** How long an append waits for another process holding the stream's lock. */
  lockTimeoutMs?: number
  /** A stream's lock is released after this long without appends, so other processes can write it. */
  lockIdleMs?: number
  /** Largest serialized event; larger payloads belong in the blob store. */
  maxEventBytes?: number
  /** Most events in one append. */
  maxEventsPerAppend?: number
  /**
   * Commit through the shared write-ahead journal (the default): one fsync for the commits of many
   * streams, stream files fsynced at checkpoints. `false` fsyncs each stream file per commit.
   */
  journal?: boolean
  /** Preallocated size of a journal segment. */
  journalSegmentBytes?: number
  /** How long after a journal segment fills its stream files are fsynced (default 30 s). */
  journalCheckpointDelayMs?: number
  /**
   * How long a journaled commit may wait to be written to its stream file, so that a stream's
   * commits share a write (default 10 ms; see WriteBehind). Reads in this process never wait for it.
   */
  writeBehindMs?: number
  /**
   * How long this process's heartbeat may be silent before other processes may take over its
   * journal, stream locks and leases (default 15 s; see LockIdentity).
   */
  leaseTtlMs?: number
  /**
   * The event types this log accepts and reads: core's modules and those of the features the
   * process loads (see createEventCatalog). Every process on a data dir must know the types its
   * streams hold.
   */
  catalog?: EventCatalog
  /** Size at which a feed segment is sealed and the next begun; the same for every process of a data dir (tests only). */
  feedSegmentBytes?: number
  /** How much of the feed is kept (older segments are deleted): how far back a subscriber can resume. */
  feedRetentionBytes?: number
  /** Recent commits the feed keeps in memory for subscribers near its head. */
  feedWindow?: number
  /**
   * For a process that only reads (`shiioo events`, `runs list`, `verify`): no journal of its own,
   * so opening and closing the log creates, renames and locks nothing in the data dir; appends are
   * refused. The journals of processes that died are still replayed (at open, when there are any,
   * and before a read of a stream whose writer is gone), so a read returns what was acknowledged.
   */
  readOnly?: boolean
  /** How often this process's feed records are fsynced and its recovery marker written (default 5 s). */
  feedSyncMs?: number
  /** How long in a busy spell this process's feed records wait to share a write (default 5 ms; for tests). */
  feedWriteDelayMs?: number
}

/**
 * The filesystem event log. One gzip-member-per-commit JSONL file per stream; an append resolves
 * once durable. Appends to one stream that arrive while a commit is in flight are committed
 * together (group commit); the commits of all streams share one write-ahead journal fsync (see
 * Journal), or, with `journal: false`, each stream file is fsynced per commit. A lock file per
 * stream serializes writers across processes.
 */
export class FsEventLog implements EventLog {
  private readonly handles: StreamHandles
  /** Streams with appends not yet handed to a commit (see tick). */
  private readonly dirty = new Set<Handle>()
  private tickScheduled = false
  private readonly listeners = new Set<AppendListener>()
  private readonly dirs = new DirSyncer()
  /** Directories this log made sure exist (durably): a day's folder is created once, not per run. */
  private readonly knownDirs = new Set<string>()
  private readonly logger: Logger
  private closed = false
  /** Recovery of dead processes' journals, then the journal (null when journaling is off or the log is read-only). */
  private readonly ready: Promise<Journal | null>
  /** What recovery at open replayed, for a read-only log (a journal keeps its own). */
  private readOnlyRecovery: RecoveryReport | null = null
  private journal: Journal | null = null
  /** Where stream files are read (see readStreamFile). */
  private readonly scratch = Buffer.allocUnsafe(256 * 1024)
  /** Stream locks, the journal's owner lock and leases are links to this writer's identity file (see LockIdentity). */
  private readonly identity: LockIdentity
  private readonly writeBehind: WriteBehind
  /** Leases on this data dir, held under this log's identity: appends check them (AppendRequest.lease). */
  readonly leases: FsLeases
  /** The event types it accepts and reads. */
  readonly catalog: EventCatalog
  /** Every durable commit of the data dir, from every process (ADR 0008). */
  readonly feed: FsFeed
  /** How far each stream was acknowledged (ADR 0011): damage at or before it is never cut. */
  private readonly points: RecoveryPoints
  /** Without a journal: this process's points, durable as it writes them. */
  private readonly unjournaledPoints: PointsWriter | null

  constructor(private readonly options: FsEventLogOptions) {
    this.logger = options.logger ?? silentLogger
    this.catalog = options.catalog ?? defaultCatalog
    this.points = new RecoveryPoints(options.dataDir)
    this.identity = new LockIdentity(join(options.dataDir, 'locks'), {
      ...(options.leaseTtlMs === undefined ? {} : { ttlMs: options.leaseTtlMs }),
    })
    this.leases = new FsLeases({
      dataDir: options.dataDir,
      identity: this.identity,
      // the new holder of a run reads its stream: it must hold what the gone holder acknowledged
      beforeTakeover: () => this.recoverGone(),
    })
    this.identity.lost.addEventListener(
      'abort',
      () => {
        this.logger.error('lost the data dir to another process', {
          error: (this.identity.lost.reason as Error).message,
        })
        this.feed.writer?.abandon() // the process that declared it gone records its commits
      },
      { once: true },
    )
    this.writeBehind = new WriteBehind(options.writeBehindMs ?? 10, this.logger)
    this.feed = new FsFeed({
      dataDir: options.dataDir,
      logger: this.logger,
      readCommit: (c) => this.readCommit(c),
      ...(options.feedSegmentBytes ? { segmentBytes: options.feedSegmentBytes } : {}),
      ...(options.feedRetentionBytes ? { retentionBytes: options.feedRetentionBytes } : {}),
      ...(options.feedWindow ? { window: options.feedWindow } : {}),
      ...(options.feedSyncMs ? { syncMs: options.feedSyncMs } : {}),
      ...(options.feedWriteDelayMs ? { writeDelayMs: options.feedWriteDelayMs } : {}),
    })
    this.handles = new StreamHandles({
      dataDir: options.dataDir,
      maxOpen: options.maxOpenStreams,
      lockIdleMs: options.lockIdleMs,
      // after a failed journal write keep every stream: what we wrote may exist only in memory
      mayRelease: () => !this.journal?.failure && !this.writeBehind.failure,
      settle: (h) => {
        this.writeBehind.write(h)
        this.feed.writer?.flushNow() // the next writer's records of the stream must come after these
        this.recordPoint(h) // before the lock goes: a reader that finds no holder trusts the point
      },
    })
    this.ready =
      options.journal === false
        ? Promise.resolve(null)
        : options.readOnly
          ? Journal.recoverForReading({
              dataDir: options.dataDir,
              logger: this.logger,
              identity: this.identity,
              points: this.points,
            }).then((report) => {
              this.readOnlyRecovery = report
              return null
            })
          : Journal.open({
              dataDir: options.dataDir,
              logger: this.logger,
              identity: this.identity,
              points: this.points,
              // a checkpoint makes stream files durable on their own: they must hold what it covers,
              // and the feed's records of its commits must be durable before it forgets them
              // the feed's due records are written on the journal write's identity check (one, not two)
              afterCheckedWrite: () => this.feed.writer?.flushChecked(),
              beforeCheckpoint: () => {
                this.writeBehind.writeAll()
                this.feed.writer?.syncNow()
              },
              ...(options.journalSegmentBytes ? { segmentBytes: options.journalSegmentBytes } : {}),
              ...(options.journalCheckpointDelayMs !== undefined
                ? { checkpointDelayMs: options.journalCheckpointDelayMs }
                : {}),
            }).then((j) => {
              this.journal = j
              // the feed names records by the journal owner (see reconcileFeed); a process declared gone writes none
              this.feed.attachWriter(j.owner, () => this.identity.held())
              return j
            })
    // without a journal, no recovery looks for this writer's records: any id will do
    const unjournaled = `nj-${randomBytes(8).toString('hex')}`
    if (options.journal === false) this.feed.attachWriter(unjournaled)
    this.unjournaledPoints =
      options.journal === false && !options.readOnly
        ? new PointsWriter(this.points, unjournaled, { sync: true, logger: this.logger })
        : null
    // appends report it; reads go on without (they miss only what a machine crash lost)
    this.ready.catch((err: Error) => this.logger.error('event journal recovery failed', { error: err.message }))
  }

  /**
   * Aborted once another process declared this one gone (its heartbeat stopped past the TTL:
   * paused, frozen): from then on it can acknowledge no append.
   */
  get lost(): AbortSignal {
    return this.identity.lost
  }

  /** Resolves once journals left by processes that died are replayed (opening does it). */
  async recovered(): Promise<RecoveryReport | null> {
    return (await this.ready)?.recovered ?? this.readOnlyRecovery
  }

  get dataDir(): string {
    return this.options.dataDir
  }

  append(request: AppendRequest): Promise<AppendResult> {
    try {
      if (this.closed) throw new ShiiooError('UNAVAILABLE', 'the event log is closed')
      if (this.options.readOnly) throw new ShiiooError('INTERNAL', 'the event log was opened read-only')
      if (this.identity.lost.aborted) throw this.identity.lost.reason as ShiiooError
      request.signal?.throwIfAborted()
      const tenant = parseTenantId(request.tenant)
      const stream = parseStreamId(request.stream)
      if (request.lease !== undefined) this.checkLeaseOrigin(request.lease, tenant)
      const events = this.validateEvents(request)
      const ev = request.expectedVersion
      if (ev !== 'any' && (!Number.isInteger(ev) || ev < 0)) {
        throw new ShiiooError(
          'INVALID_INPUT',
          `expectedVersion must be a non-negative integer or "any" (got ${String(ev)})`,
        )
      }
      const h = this.handles.use(tenant, stream)
      return new Promise<AppendResult>((resolve, reject) => {
        h.pending.push({ request, events, resolve, reject })
        this.dirty.add(h)
        if (!this.tickScheduled) {
          this.tickScheduled = true
          setImmediate(this.tick)
        }
      })
    } catch (err) {
      return Promise.reject(toShiiooError(err))
    }
  }

  private checkLeaseOrigin(lease: unknown, tenant: TenantId): void {
    if (!(lease instanceof FsLeaseGrant) || lease.identity !== this.identity) {
      throw new ShiiooError('INVALID_INPUT', "an append's lease must come from this event log's leases")
    }
    if (lease.tenant !== tenant) {
      throw new ShiiooError('INVALID_INPUT', `the lease on ${lease.name} is of tenant ${lease.tenant}, not ${tenant}`)
    }
  }

  private validateEvents(request: AppendRequest): NewEvent[] {
    const max = this.options.maxEventsPerAppend ?? 10_000
    if (!Array.isArray(request.events) || request.events.length === 0) {
      throw new ShiiooError('INVALID_INPUT', 'events must be a non-empty array')
    }
    if (request.events.length > max) throw new ShiiooError('INVALID_INPUT', `at most ${max} events per append`)
    const events = request.events.map((e, i) => validateNewEvent(e, i, this.catalog))
    // most appends hold a few events: compared pairwise, with no set to allocate
    const seen = events.length > 16 ? new Set<string>() : null
    for (let i = 0; i < events.length; i++) {
      const id = events[i]!.id
      let twice = false
      if (seen) {
        twice = seen.has(id)
        seen.add(id)
      } else for (let j = 0; j < i && !twice; j++) twice = events[j]!.id === id
      if (twice) throw new ShiiooError('INVALID_INPUT', `events[${i}].id ${id} appears twice in one append`)
    }
    return events
  }

  /**
   * Once per turn of the event loop: every stream with new appends starts its commit, so the
   * appends one stream got in that turn share a commit, and the journal writes what all streams
   * committed in one write before the turn ends.
   */
  private readonly tick = (): void => {
    this.tickScheduled = false
    const journal = this.journal
    journal?.hold()
    for (const h of this.dirty) this.schedule(h)
    this.dirty.clear()
    journal?.release()
  }

  private schedule(h: Handle): void {
    if (h.flushing !== null) return
    h.flushing = this.flush(h).finally(() => {
      h.flushing = null
      if (h.pending.length > 0) this.schedule(h) // arrived after the loop's last look
    })
  }

  private async flush(h: Handle): Promise<void> {
    while (h.pending.length > 0) {
      const batch = h.pending.splice(0)
      let outcomes: Outcome[]
      let member: MemberAt | null = null
      try {
        ;({ outcomes, member } = await this.commit(h, batch))
      } catch (err) {
        const error = toShiiooError(err)
        if (error.code === 'INTERNAL')
          this.logger.error('append failed', { stream: h.stream, tenant: h.tenant, error: error.message })
        outcomes = batch.map(() => ({ ok: false, error }))
      }
      const appended: StoredEvent[] = []
      for (const o of outcomes) if (o.ok) appended.push(...o.stored)
      // durable: its feed record is written within milliseconds, and before the stream's lock
      // goes to another process (see FeedWriter)
      if (appended.length > 0 && member !== null) this.feed.writer!.record(appended, member)
      outcomes.forEach((o, i) => {
        if (o.ok) batch[i]!.resolve(o.result)
        else batch[i]!.reject(o.error)
      })
      if (appended.length > 0) this.notify(appended)
    }
  }

  /** Decides and commits a batch; `member` is where its bytes are in the stream file (null if none). */
  private async commit(h: Handle, batch: Pending[]): Promise<{ outcomes: Outcome[]; member: MemberAt | null }> {
    const journal = this.journal ?? (await this.ready)
    if (journal?.failure) throw journal.failure
    if (this.writeBehind.failure) throw this.writeBehind.failure
    if (this.feed.writer?.failure) throw this.feed.writer.failure
    const dir = dirname(h.path)
    if (h.fd === null && !this.knownDirs.has(dir)) {
      ensureDurableDir(dir)
      this.knownDirs.add(dir)
    }
    h.lock ??= new FileLock(`${h.path}.lock`, {
      timeoutMs: this.options.lockTimeoutMs ?? 10_000,
      identity: this.identity,
      // a gone writer's journal may hold commits its file does not have yet: replay them first
      beforeBreak: () => this.recoverGone(),
    })
    // held from the first commit until the stream goes idle: one lock file per writer, not per commit
    const fresh = !h.lock.isHeld
    if (fresh && !(await h.lock.tryAcquireAsync())) await h.lock.acquire()
    let writtenAt = -1
    try {
      if (h.fd === null) {
        const opened = openStreamFile(h.path)
        h.fd = opened.fd
        h.dirUnsynced = opened.created
      }
      // on (re)taking the lock, catch up with what other processes wrote; while we hold it, no one does
      // a file this commit created is empty: nothing to read
      if (h.state === null && h.dirUnsynced) h.state = { size: 0, version: 0, ids: new Map() }
      // just taken: bytes past the stream's point were written by no one who held it; else ours
      else if (fresh || h.state === null)
        h.state = refreshState(h.fd, h.state, h, (decoded, fileBytes, prev) =>
          this.checkPoint(h, decoded, fileBytes, prev, fresh ? 'taken' : 'own'),
        )
      const state = h.state
      const fd = h.fd
      const { outcomes, lines, added } = planAppends(
        h,
        state,
        batch,
        this.options.maxEventBytes ?? 1024 * 1024,
        (seq) => {
          this.writeBehind.write(h) // the file must hold the event to be read back
          return storedFingerprint(fd, state.size, h, seq)
        },
        leaseError,
      )
      let at: MemberAt | null = null
      if (lines.length > 0) {
        const member = encodeMember(lines.join('\n') + '\n')
        const offset = state.size
        at = { offset, length: member.length }
        if (journal !== null) {
          // durable once in the journal; a new file's directory entry is made durable at checkpoint
          const entry = { tenant: h.tenant, stream: h.stream, offset, bytes: member, seq: state.version + lines.length }
          await journal.commit(entry, h.path, h.dirUnsynced ? dir : null)
          this.writeBehind.add(h, member, offset)
        } else {
          this.identity.assertHeld()
          writtenAt = offset
          writeFully(h.fd, member, offset)
          // a new file's directory entry must be durable too: its fsync is shared with other new files
          if (h.dirUnsynced) await Promise.all([fdatasyncAsync(h.fd), this.dirs.sync(dir)])
          else await fdatasyncAsync(h.fd)
          this.identity.assertHeld()
          // no journal covers it: its point is made durable now, or a reader would doubt it
          const end = offset + member.length
          this.unjournaledPoints?.write([
            { tenant: h.tenant, stream: h.stream, end, seq: state.version + lines.length },
          ])
          h.pointEnd = end
        }
        h.dirUnsynced = false
        state.size += member.length
        state.version += lines.length
        for (const [id, v] of added) state.ids.set(id, v.seq)
      }
      return { outcomes, member: at }
    } catch (err) {
      // Leave no partial record behind and forget what we knew: the next commit re-reads the file,
      // so it must first hold every earlier journaled commit. Bytes handed to the journal are not
      // in the file yet: the journal may hold them, and a failed journal stops every append until
      // the process restarts and recovery settles what is durable.
      if (writtenAt >= 0 && h.fd !== null) {
        try {
          ftruncateSync(h.fd, writtenAt)
        } catch {
          // the next commit cuts it as a torn tail
        }
      }
      try {
        this.writeBehind.write(h)
      } catch {
        // kept as the log's failure: every later append and read reports it
      }
      h.state = null
      throw err
    }
  }

  /**
   * Replays the journals of writers that are gone, so their stream files hold everything they
   * acknowledged before one of their locks is broken. False while another process is recovering
   * (the lock is tried again later).
   */
  private recoverGone(): boolean {
    const dir = join(this.options.dataDir, 'journal')
    const lock = new FileLock(join(dir, 'recovery.lock'), { identity: this.identity })
    if (!lock.tryAcquire()) return false
    try {
      const report = recoverOrphans(
        dir,
        this.options.dataDir,
        this.journal?.ownerId ?? '',
        this.logger,
        this.identity,
        this.points,
      )
      if (report.owners > 0) this.logger.info('replayed the journals of gone writers', { ...report })
      return true
    } catch (err) {
      this.logger.error('could not replay the journal of a gone writer', { error: (err as Error).message })
      return false
    } finally {
      lock.release()
    }
  }

  private notify(events: StoredEvent[]): void {
    for (const l of this.listeners) {
      try {
        l(events)
      } catch (err) {
        this.logger.error('append listener failed', { error: (err as Error).message })
      }
    }
  }

  async read(request: ReadRequest): Promise<StoredEvent[]> {
    const fromSeq = request.fromSeq ?? 1
    const toSeq = request.toSeq ?? Number.MAX_SAFE_INTEGER
    if (!Number.isInteger(fromSeq) || fromSeq < 1)
      throw new ShiiooError('INVALID_INPUT', 'fromSeq must be an integer >= 1')
    if (!Number.isInteger(toSeq) || toSeq < 0) throw new ShiiooError('INVALID_INPUT', 'toSeq must be an integer >= 0')
    request.signal?.throwIfAborted()
    if (this.journal === null) await this.ready.catch(() => null)
    const file = this.readDurable(request)
    if (file === null) return []
    const trustData = request.validation === 'checksum'
    const decoded = decodeStreamBytes(file.buf, file, {
      prevVersion: 0,
      fromSeq,
      toSeq,
      trustData,
      catalog: this.catalog,
    })
    this.checkPoint(file, decoded, file.fileBytes, 0, 'read')
    return decoded.events
  }

  async version(request: { tenant: TenantId; stream: StreamId }): Promise<number> {
    if (this.journal === null) await this.ready.catch(() => null)
    const file = this.readDurable(request)
    if (file === null) return 0
    const decoded = decodeStreamBytes(file.buf, file, {
      prevVersion: 0,
      fromSeq: Number.MAX_SAFE_INTEGER,
      catalog: this.catalog,
    })
    this.checkPoint(file, decoded, file.fileBytes, 0, 'read')
    return decoded.count
  }

  /**
   * A commit's events from just its bytes in the stream file, for the feed (which names them):
   * fewer than it holds while another process's write-behind has not put them there yet. A long
   * stream is not read whole for every commit another process makes to it.
   */
  private async readCommit(c: FeedCommitAt): Promise<StoredEvent[]> {
    if (this.journal === null) await this.ready.catch(() => null)
    this.writeOut(c.tenant, c.stream)
    const where = { tenant: c.tenant, stream: c.stream, path: streamPath(this.options.dataDir, c.tenant, c.stream) }
    const bytes = readFileRange(where.path, c.offset, c.length)
    if (bytes === null || bytes.length < c.length) return []
    try {
      return decodeStreamBytes(bytes, where, {
        prevVersion: c.firstSeq - 1,
        baseOffset: c.offset,
        trustData: true,
        catalog: this.catalog,
      }).events
    } catch {
      // not the bytes the record names (a stream rewritten since?): read the seqs the usual way
      return this.read({ ...c, fromSeq: c.firstSeq, toSeq: c.lastSeq })
    }
  }

  /**
   * A stream file's durable bytes, or null if it does not exist. They live in the shared scratch
   * buffer until the next read: the caller decodes them before it awaits anything.
   */
  private readDurable(request: { tenant: TenantId; stream: StreamId }) {
    const tenant = parseTenantId(request.tenant)
    const stream = parseStreamId(request.stream)
    const path = streamPath(this.options.dataDir, tenant, stream)
    this.writeOut(tenant, stream)
    this.settleGoneWriter(tenant, stream, path)
    const buf = readStreamFile(path, this.scratch)
    if (buf === null) return null
    const durable = this.durablePart(tenant, stream, buf)
    // a part cut off by durablePart is this process's own commit on its way: not missing
    return { tenant, stream, path, buf: durable, fileBytes: durable.length }
  }

  /**
   * A writer's acknowledged commits wait up to a few milliseconds for its stream file (see
   * WriteBehind); if it is gone (killed, frozen past its TTL) they are in its journal alone. A
   * read must not return less than what was acknowledged: replay that journal first.
   */
  private settleGoneWriter(tenant: TenantId, stream: StreamId, path: string): void {
    if (this.handles.find(tenant, stream)?.lock?.isHeld) return
    const lock = `${path}.lock`
    if (!existsSync(lock)) return
    if (liveOwnerOf(lock, join(this.options.dataDir, 'locks')) === null) this.recoverGone()
  }

  /** Writes the stream's journaled commits that are still waiting for its file (see WriteBehind). */
  private writeOut(tenant: TenantId, stream: StreamId): void {
    const h = this.handles.find(tenant, stream)
    if (h) this.writeBehind.write(h)
  }

  /**
   * While this process holds a stream's lock, it alone writes the file, and (without the journal)
   * a commit may be between its write and its fsync: show readers only the part that is durable.
   */
  private durablePart(tenant: TenantId, stream: StreamId, buf: Buffer): Buffer {
    const h = this.handles.find(tenant, stream)
    if (!h?.lock?.isHeld || h.state === null || h.state.size >= buf.length) return buf
    return buf.subarray(0, h.state.size)
  }

  /**
   * Reads a whole stream strictly, reporting a torn tail instead of hiding it (for `verify`), and
   * what a process that stopped left of it: an empty file (it stopped before its first commit was
   * durable) and a lock whose holder is gone (the next writer breaks it).
   */
  async inspect(request: { tenant: TenantId; stream: StreamId }) {
    const tenant = parseTenantId(request.tenant)
    const stream = parseStreamId(request.stream)
    const path = streamPath(this.options.dataDir, tenant, stream)
    this.writeOut(tenant, stream)
    const buf = readStreamFile(path, this.scratch) ?? Buffer.alloc(0)
    const empty = buf.length === 0
    const decoded = decodeStreamBytes(buf, { tenant, stream, path }, { prevVersion: 0, catalog: this.catalog })
    this.checkPoint({ tenant, stream, path }, decoded, buf.length, 0, 'read')
    return { path, ...decoded, empty, staleLock: this.staleLockOf(tenant, stream, path) }
  }

  /**
   * Checks a stream's bytes against its recovery point (ADR 0011), throwing DATA_CORRUPTED naming
   * the stream and seq: a file shorter than the point was cut, a bad record at or before it is
   * damage (never a torn tail to cut), and whole records past it need a writer that may have made
   * them: this process (`own`), or for a reader (`read`) a live process holding the stream. For a
   * writer that just took the stream (`taken`), whoever held it before recorded its point before
   * letting go, or had its journal replayed, which records it. The points are looked at again
   * before anything past them is judged (another process may have recorded more meanwhile).
   */
  private checkPoint(
    where: { tenant: TenantId; stream: StreamId; path: string },
    decoded: Pick<DecodedLines, 'count' | 'end' | 'tornTail'>,
    fileBytes: number,
    prevVersion: number,
    mode: 'read' | 'taken' | 'own',
  ): void {
    let point = this.points.get(where.tenant, where.stream)
    if (point === null || (fileBytes === point.end && decoded.tornTail === null)) return
    // the point only grows: what disagrees with an older one disagrees with the newest
    let problem = pointProblem(decoded, fileBytes, prevVersion, point, where)
    if (problem) throw problem
    if (mode === 'own') return
    if (mode === 'read') {
      // this process's own commits (a stream it took and found wrong has no state: not its own)
      const h = this.handles.find(where.tenant, where.stream)
      if (h?.lock?.isHeld && h.state !== null && decoded.end <= h.state.size) return
      const lock = `${where.path}.lock`
      const other = existsSync(lock) && !this.identity.owns(lock)
      if (other && liveOwnerOf(lock, join(this.options.dataDir, 'locks')) !== null) return
    }
    // no live writer explains what lies past the point: look at the newest points
    this.points.refresh()
    point = this.points.get(where.tenant, where.stream)!
    problem = pointProblem(decoded, fileBytes, prevVersion, point, where)
    if (problem) throw problem
    if (decoded.end > point.end) throw pastPointProblem(decoded.end, point, where)
  }

  /** Records how far this process's commits to the stream go, before it lets go of the stream. */
  private recordPoint(h: Handle): void {
    if (!h.lock?.isHeld || h.state === null || h.state.size <= h.pointEnd) return
    const writer = this.journal?.points ?? this.unjournaledPoints
    if (writer === null) return
    const point = { tenant: h.tenant, stream: h.stream, end: h.state.size, seq: h.state.version }
    if (!writer.write([point])) throw new ShiiooError('UNAVAILABLE', 'recovery points could not be written')
    h.pointEnd = h.state.size
  }

  /** The holder of the stream's lock file when that holder is gone (not this process), else null. */
  private staleLockOf(
    tenant: TenantId,
    stream: StreamId,
    path: string,
  ): { path: string; pid: number; host: string } | null {
    if (this.handles.find(tenant, stream)?.lock?.isHeld) return null
    const lock = `${path}.lock`
    if (!existsSync(lock) || liveOwnerOf(lock, join(this.options.dataDir, 'locks')) !== null) return null
    const owner = readOwner(lock)
    return { path: lock, pid: owner?.pid ?? 0, host: owner?.host ?? 'unknown' }
  }

  async *listStreams(request: ListStreamsRequest = {}): AsyncIterable<StreamInfo> {
    if (this.journal === null) await this.ready.catch(() => null)
    this.writeBehind.writeAll() // the listing's tokens are the files' sizes
    yield* listStreamFiles(this.options.dataDir, request)
  }

  /** Tenants that have a folder in the data dir; the default tenant always. */
  tenants(): Promise<TenantId[]> {
    return listTenants(this.options.dataDir)
  }

  subscribe(listener: AppendListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  async close(): Promise<void> {
    this.closed = true
    // a commit loop can reschedule itself for appends that arrived meanwhile: wait until none runs
    for (;;) {
      if (this.tickScheduled) await nextTurn()
      const busy = [...this.handles.all()].flatMap((h) => (h.flushing ? [h.flushing] : []))
      if (busy.length === 0 && !this.tickScheduled) break
      await Promise.all(busy)
    }
    // checkpoint: the stream files get what waits for them and become durable on their own, and
    // the journal is removed (kept if they could not be written: the next process replays it)
    const journal = await this.ready.catch(() => null)
    await journal?.close()
    const journaled = journal === null ? this.options.journal === false : journal.failure === null
    await this.feed.close(journaled && this.writeBehind.failure === null)
    this.handles.close()
    this.unjournaledPoints?.close()
    this.identity.dispose()
    this.listeners.clear()
  }
}

function leaseError(request: AppendRequest): ShiiooError | null {
  const lease = request.lease as FsLeaseGrant
  return lease.current
    ? null
    : new ShiiooError(
        'LEASE_LOST',
        `the lease on ${lease.name} (fence ${lease.fence}) is no longer held: another process took it over`,
      )
}

export function openFsEventLog(options: FsEventLogOptions): FsEventLog {
  return new FsEventLog(options)
}
