import {
  closeSync,
  constants,
  fdatasyncSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import type { Logger } from '../ports/logger.js'
import { ensureDurableDir, fsyncDir } from './durable.js'
import type { LockOwner } from './file-lock.js'
import { FileLock, liveOwnerOf } from './file-lock.js'
import type { LockIdentity } from './lock-identity.js'
import { isThisProcess } from './owners.js'
import type { JournalEntry } from './journal-format.js'
import { SPARE_FILE, decodeSegment, segmentId } from './journal-format.js'
import { reconcileFeed } from './feed-reconcile.js'
import { streamPath } from './paths.js'
import { readRange, writeFully } from './stream-file.js'
import type { RecoveryPoints } from './recovery-points.js'
import { PointsWriter } from './recovery-points.js'
import type { StreamId, TenantId } from '../ids.js'
import { ShiiooError } from '../errors.js'

export const SEGMENT_FILE = /^([a-z0-9]+-[a-z0-9]+)\.(\d{1,9})\.wal$/
export const OWNER_LOCK = /^([a-z0-9]+-[a-z0-9]+)\.lock$/
/** Left by recovery for an owner whose journal it replayed: later segments of that owner are never replayed. */
export const TOMBSTONE = /^([a-z0-9]+-[a-z0-9]+)\.gone$/
/** Tombstones outlive any process that could still write under their owner's name. */
const TOMBSTONE_KEEP_MS = 24 * 3600_000

/**
 * The processes that have the event log of `dataDir` open right now (each holds a journal owner
 * lock while it does), other than this one: for commands that need the data dir to themselves.
 */
export function openWriters(dataDir: string): Array<Pick<LockOwner, 'pid' | 'host'>> {
  const dir = join(dataDir, 'journal')
  const locks = join(dataDir, 'locks')
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const out: Array<Pick<LockOwner, 'pid' | 'host'>> = []
  for (const name of names) {
    if (!OWNER_LOCK.test(name)) continue
    const o = liveOwnerOf(join(dir, name), locks)
    if (o !== null && !isThisProcess(o)) out.push({ pid: o.pid, host: o.host })
  }
  return out
}

export interface RecoveryReport {
  /** Journal owners (processes) that had died with segments left. */
  owners: number
  entries: number
  /** Entries whose bytes were missing or different in the stream file and were written back. */
  repaired: number
}

/**
 * Replays the journals of processes that are gone (dead, or silent past their TTL: taking their
 * owner lock declares them gone first, so they acknowledge nothing more). Every entry is a commit
 * that may have been acknowledged; its bytes go back to their place in the stream file unless they
 * are already there (after a process kill they are: the page cache survives; after a machine crash
 * they may not be). Then the stream files are fsynced and the segments deleted. Caller holds the
 * journal's recovery lock.
 *
 * A holder declared gone while merely paused may wake up and write on: its later journal records
 * are never acknowledged (it checks its identity after each write), so a tombstone
 * (`<owner>.gone`) makes every later recovery delete that owner's segments unread. The segments
 * are listed again after the tombstone is written, so one made just before it is replayed.
 */
export function recoverOrphans(
  journalDir: string,
  dataDir: string,
  self: string,
  logger: Logger,
  identity?: LockIdentity,
  points?: RecoveryPoints,
): RecoveryReport {
  const owners = new Set<string>()
  const tombstones = new Set<string>()
  let spares = 0
  for (const name of readdirSync(journalDir)) {
    const owner = SEGMENT_FILE.exec(name)?.[1] ?? OWNER_LOCK.exec(name)?.[1]
    if (owner !== undefined) owners.add(owner)
    const gone = TOMBSTONE.exec(name)
    if (gone) {
      tombstones.add(gone[1]!)
      dropOldTombstone(join(journalDir, name))
    }
    if (SPARE_FILE.test(name) && ++spares > 2) unlinkSync(join(journalDir, name)) // spares left by many processes
  }
  const report: RecoveryReport = { owners: 0, entries: 0, repaired: 0 }
  for (const owner of [...owners].sort()) {
    if (owner === self) continue
    const lock = new FileLock(join(journalDir, `${owner}.lock`), identity ? { identity } : {})
    if (!lock.tryAcquire()) continue // a live process: its journal is its own
    try {
      if (tombstones.has(owner)) {
        // replayed before: what it wrote since was never acknowledged
        for (const s of segmentsOf(journalDir, owner)) unlinkSync(s.path)
        continue
      }
      writeFileSync(join(journalDir, `${owner}.gone`), '', { flag: 'w' })
      const list = segmentsOf(journalDir, owner)
      const entries: JournalEntry[] = []
      for (const s of list) {
        const decoded = decodeSegment(readFileSync(s.path), segmentId(owner, s.n))
        if (decoded.stoppedBy) logger.warn('journal segment ends early', { segment: s.path, reason: decoded.stoppedBy })
        entries.push(...decoded.entries)
      }
      if (list.length > 0) {
        report.owners++
        report.entries += entries.length
        report.repaired += restore(dataDir, entries, logger)
        logger.info('journal recovered', { owner, segments: list.length, entries: entries.length })
        // the segments go: the streams' points say from now on how far they were acknowledged
        if (points) recordPoints(points, owner, entries, logger)
      }
      reconcileFeed(dataDir, owner, entries, logger) // commits that lack their feed record get one
      for (const s of list) unlinkSync(s.path)
    } finally {
      lock.release()
    }
  }
  return report
}

/** Each replayed stream's end and version, appended (durably) to the gone owner's points file. */
function recordPoints(points: RecoveryPoints, owner: string, entries: readonly JournalEntry[], logger: Logger): void {
  const ends = new Map<string, { tenant: TenantId; stream: StreamId; end: number; seq: number }>()
  for (const e of entries) {
    const key = `${e.tenant}/${e.stream}`
    const end = e.offset + e.bytes.length
    const had = ends.get(key)
    if (had === undefined || end > had.end) ends.set(key, { tenant: e.tenant, stream: e.stream, end, seq: e.seq })
  }
  const writer = new PointsWriter(points, owner, { sync: true, logger })
  try {
    if (!writer.write(ends.values())) throw new ShiiooError('UNAVAILABLE', 'recovery points could not be written')
  } finally {
    writer.close()
  }
}

/** An owner's segments, oldest first. */
function segmentsOf(journalDir: string, owner: string): Array<{ n: number; path: string }> {
  const list: Array<{ n: number; path: string }> = []
  for (const name of readdirSync(journalDir)) {
    const seg = SEGMENT_FILE.exec(name)
    if (seg && seg[1] === owner) list.push({ n: Number(seg[2]), path: join(journalDir, name) })
  }
  return list.sort((a, b) => a.n - b.n)
}

function dropOldTombstone(path: string): void {
  try {
    if (Date.now() - statSync(path).mtimeMs > TOMBSTONE_KEEP_MS) unlinkSync(path)
  } catch {
    // taken care of by another process
  }
}

/** Writes each entry's bytes where they belong, in offset order per stream; fsyncs what it touched. */
function restore(dataDir: string, entries: JournalEntry[], logger: Logger): number {
  const byPath = new Map<string, JournalEntry[]>()
  for (const e of entries) {
    const path = streamPath(dataDir, e.tenant, e.stream)
    const list = byPath.get(path) ?? []
    list.push(e)
    byPath.set(path, list)
  }
  let repaired = 0
  const dirs = new Set<string>()
  for (const [path, list] of byPath) {
    list.sort((a, b) => a.offset - b.offset)
    ensureDurableDir(dirname(path))
    dirs.add(dirname(path))
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644)
    try {
      for (const e of list) {
        const have = readRange(fd, e.offset, e.offset + e.bytes.length)
        if (have.equals(e.bytes)) continue
        if (fstatSync(fd).size < e.offset) {
          // bytes before this commit were checkpointed and still lost (the disk lied about an
          // fsync): write what we have; `shiioo verify` reports the hole
          logger.error('stream file is missing bytes before a journaled commit', { path, offset: e.offset })
        }
        writeFully(fd, e.bytes, e.offset)
        repaired++
      }
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }
  for (const d of dirs) fsyncDir(d)
  return repaired
}
