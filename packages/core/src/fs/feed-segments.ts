import { closeSync, constants, openSync, readdirSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fsyncDir } from './durable.js'

/**
 * The feed's files: `feed/<start>.feed`, `<start>` the absolute byte position of the segment's
 * first byte as 16 hex digits, so a record's position is its segment's start plus its offset
 * there, the same in every process and across restarts.
 */
const SEGMENT = /^([0-9a-f]{16})\.feed$/

export function segmentPath(dir: string, start: number): string {
  return join(dir, `${start.toString(16).padStart(16, '0')}.feed`)
}

/** The segments' starts, oldest first. */
export function listSegments(dir: string): number[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const starts: number[] = []
  for (const name of names) {
    const m = SEGMENT.exec(name)
    if (m) starts.push(parseInt(m[1]!, 16))
  }
  return starts.sort((a, b) => a - b)
}

/** Creates the segment starting at `start` unless it exists; true if this call made it. */
export function createSegment(dir: string, start: number): boolean {
  try {
    closeSync(openSync(segmentPath(dir, start), constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  fsyncDir(dir) // its records are fsynced later; the name must survive as well
  return true
}

/**
 * Deletes the oldest segments while the others hold at least `retainBytes`. The newest two are
 * always kept: a segment that was just begun may hold no commit yet, and the feed's head (its last
 * commit) must stay where a subscriber can start after it. A reader with a segment open keeps
 * reading it; one that needs a deleted segment is refused (GONE, expired).
 */
export function applyRetention(dir: string, retainBytes: number): void {
  const starts = listSegments(dir)
  const sizes = starts.map((s) => statSync(segmentPath(dir, s), { throwIfNoEntry: false })?.size ?? 0)
  let total = sizes.reduce((a, b) => a + b, 0)
  for (let i = 0; i < starts.length - 2 && total - sizes[i]! >= retainBytes; i++) {
    try {
      unlinkSync(segmentPath(dir, starts[i]!))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err // another process deleted it first
    }
    total -= sizes[i]!
  }
}
