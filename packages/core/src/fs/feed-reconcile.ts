import { closeSync, constants, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../ports/logger.js'
import type { CommitRecord } from './feed-format.js'
import { encodeFeedRecord } from './feed-format.js'
import { readMarker } from './feed-marker.js'
import { FeedReader } from './feed-reader.js'
import { createSegment, listSegments, segmentPath } from './feed-segments.js'
import { ensureDurableDir } from './durable.js'
import { inflateMembers } from './gzip-members.js'
import type { JournalEntry } from './journal-format.js'

/**
 * Journal recovery's part for the feed: gives a record to every commit of a dead writer that has
 * none. A commit is durable once in the journal and gets its record just after, so a process
 * killed in between leaves a commit without one; a machine crash can take records the feed had
 * not fsynced yet. Runs before anyone else may write the writer's streams (the caller holds the
 * journal's recovery lock and the dead owner's lock), so the missing records keep each stream's order.
 *
 * Which commits to look for: the writer's marker (see FeedWriter) says which of its records were
 * durable at its last fsync and where the feed ended then; only commits after that one are looked
 * up, in the feed from that end on. Without a marker, every commit is looked up in all of the
 * feed that is kept. A commit whose record retention may have deleted is not recorded twice: if
 * the feed holds a later record of the same stream, the commit's own record came before it.
 *
 * Returns how many records it appended.
 */
export function reconcileFeed(
  dataDir: string,
  owner: string,
  entries: readonly JournalEntry[],
  logger: Logger,
): number {
  const dir = join(dataDir, 'feed')
  const markerPath = join(dir, `${owner}.sync`)
  const marker = readMarker(markerPath)
  const commits = entries.map(commitOf).filter((c): c is Commit => c !== null)
  const k = marker?.last ? commits.map((c) => c.key).lastIndexOf(marker.last) : -1
  const candidates = commits.slice(k + 1)
  let appended = 0
  if (candidates.length > 0) {
    ensureDurableDir(dir)
    if (listSegments(dir).length === 0) createSegment(dir, 0)
    const oldest = listSegments(dir)[0]!
    const from = marker ? Math.max(marker.end, oldest) : oldest
    const seen = scan(dir, from, new Set(candidates.map((c) => `${c.tenant} ${c.stream}`)))
    const unsure = marker === null || marker.end < oldest
    const missing = candidates.filter(
      (c) => !seen.keys.has(c.key) && !(unsure && (seen.lastSeq.get(`${c.tenant} ${c.stream}`) ?? 0) > c.lastSeq),
    )
    if (missing.length > 0) {
      appendRecords(
        dir,
        // counts the dead writer never reached, so its own void records are not taken for these
        missing.map(({ key: _, ...c }, i) => ({ kind: 'commit', ...c, writer: owner, n: 2 ** 40 + i })),
      )
      logger.info('feed records restored', { owner, records: missing.length })
    }
    appended = missing.length
  }
  try {
    unlinkSync(markerPath)
  } catch {
    // none was written
  }
  return appended
}

type Commit = Omit<CommitRecord, 'kind' | 'writer' | 'n'> & { key: string }

/** A journal entry's stream and seqs, from the first and last line of its gzip member. */
function commitOf(e: JournalEntry): Commit | null {
  const chunks = inflateMembers(e.bytes)
  if (chunks === null) return null
  const lines = Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0)
  if (lines.length === 0) return null
  try {
    const firstSeq = (JSON.parse(lines[0]!) as { seq: number }).seq
    const lastSeq = (JSON.parse(lines.at(-1)!) as { seq: number }).seq
    if (!Number.isSafeInteger(firstSeq) || !Number.isSafeInteger(lastSeq)) return null
    const key = `${e.tenant} ${e.stream} ${lastSeq}`
    return { tenant: e.tenant, stream: e.stream, firstSeq, lastSeq, offset: e.offset, length: e.bytes.length, key }
  } catch {
    return null
  }
}

/** The keys of the commit records from `from` on, and the last seq recorded per stream of interest. */
function scan(dir: string, from: number, streams: Set<string>) {
  const keys = new Set<string>()
  const lastSeq = new Map<string, number>()
  const reader = new FeedReader(dir, from, { createNext: true }, false)
  try {
    for (;;) {
      const read = reader.read()
      for (const r of read.records) {
        if (r.record.kind !== 'commit') continue
        const s = `${r.record.tenant} ${r.record.stream}`
        if (!streams.has(s)) continue
        keys.add(`${s} ${r.record.lastSeq}`)
        lastSeq.set(s, Math.max(lastSeq.get(s) ?? 0, r.record.lastSeq))
      }
      if (read.caughtUp) return { keys, lastSeq }
    }
  } finally {
    reader.close()
  }
}

/**
 * Appends records and makes sure they count: a record that landed after a seal (another process
 * ended the segment meanwhile) is written again in the next segment. Then fsyncs them.
 */
function appendRecords(dir: string, records: CommitRecord[]): void {
  let pending = records
  while (pending.length > 0) {
    const newest = listSegments(dir).at(-1)!
    const path = segmentPath(dir, newest)
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND)
    try {
      const bytes = Buffer.concat(pending.map(encodeFeedRecord))
      if (writeSync(fd, bytes) !== bytes.length) throw new Error('short write to the feed')
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
    // read the segment from its start: a seal written before ours (its next segment not made yet) counts too
    const reader = new FeedReader(dir, newest, { createNext: true, reportVoids: true })
    const voids: CommitRecord[] = []
    try {
      for (;;) {
        const read = reader.read()
        voids.push(...read.voided.map((v) => v.record))
        if (read.caughtUp) break
      }
    } finally {
      reader.close()
    }
    const ours = new Set(pending.map((r) => r.n))
    pending = voids.filter((r) => r.writer === records[0]!.writer && ours.has(r.n))
  }
}
