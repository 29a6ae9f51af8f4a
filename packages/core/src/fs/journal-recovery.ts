import {
  closeSync,
  constants,
  fdatasyncSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import type { Logger } from '../ports/logger.js'
import { ensureDurableDir, fsyncDir } from './durable.js'
import type { LockIdentity, LockOwner } from './file-lock.js'
import { FileLock, isThisProcess, liveOwnerOf } from './file-lock.js'
import type { JournalEntry } from './journal-format.js'
import { SPARE_FILE, decodeSegment, segmentId } from './journal-format.js'
import { reconcileFeed } from './feed-reconcile.js'
import { streamPath } from './paths.js'
import { readRange, writeFully } from './stream-file.js'

export const SEGMENT_FILE = /^([a-z0-9]+-[a-z0-9]+)\.(\d{1,9})\.wal$/
export const OWNER_LOCK = /^([a-z0-9]+-[a-z0-9]+)\.lock$/

/**
 * The processes that have the event log of `dataDir` open right now (each holds a journal owner
 * lock while it does), other than this one: for commands that need the data dir to themselves.
 */
export function openWriters(dataDir: string): Array<Pick<LockOwner, 'pid' | 'host'>> {
  const dir = join(dataDir, 'journal')
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const out: Array<Pick<LockOwner, 'pid' | 'host'>> = []
  for (const name of names) {
    if (!OWNER_LOCK.test(name)) continue
    const o = liveOwnerOf(join(dir, name))
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
 * Replays the journals of processes that are gone. Every entry is a commit that was acknowledged;
 * its bytes go back to their place in the stream file unless they are already there (after a
 * process kill they are: the page cache survives; after a machine crash they may not be). Then
 * the stream files are fsynced and the segments deleted. Caller holds the journal's recovery lock.
 */
export function recoverOrphans(
  journalDir: string,
  dataDir: string,
  self: string,
  logger: Logger,
  identity?: LockIdentity,
): RecoveryReport {
  const segments = new Map<string, { n: number; path: string }[]>()
  const owners = new Set<string>()
  let spares = 0
  for (const name of readdirSync(journalDir)) {
    const seg = SEGMENT_FILE.exec(name)
    if (seg) {
      const list = segments.get(seg[1]!) ?? []
      list.push({ n: Number(seg[2]), path: join(journalDir, name) })
      segments.set(seg[1]!, list)
      owners.add(seg[1]!)
    }
    const lock = OWNER_LOCK.exec(name)
    if (lock) owners.add(lock[1]!)
    if (SPARE_FILE.test(name) && ++spares > 2) unlinkSync(join(journalDir, name)) // spares left by many processes
  }
  const report: RecoveryReport = { owners: 0, entries: 0, repaired: 0 }
  for (const owner of [...owners].sort()) {
    if (owner === self) continue
    const lock = new FileLock(join(journalDir, `${owner}.lock`), identity ? { identity } : {})
    if (!lock.tryAcquire()) continue // a live process: its journal is its own
    const list = (segments.get(owner) ?? []).sort((a, b) => a.n - b.n)
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
    }
    reconcileFeed(dataDir, owner, entries, logger) // commits that lack their feed record get one
    for (const s of list) unlinkSync(s.path)
    lock.release()
  }
  return report
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
