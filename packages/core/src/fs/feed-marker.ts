import { closeSync, constants, fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { crc32 } from 'node:zlib'

/**
 * A writer's durability marker, `feed/<writer>.sync`: after an fsync of the feed, every record the
 * writer wrote up to `last` (its key, `<tenant> <stream> <lastSeq>`, or null before its first)
 * lies before `end` and is durable; records it wrote later lie at or after `end`. Journal
 * recovery of a dead writer reads it to know which of its commits may lack a record.
 *
 * One block of fixed size, rewritten in place: a block is written whole or not at all on the
 * disks we run on, and a torn or unreadable one (its checksum fails) counts as no marker, which
 * only makes recovery read more of the feed.
 */
export interface Marker {
  end: number
  last: string | null
}

const BLOCK = 512

const FLAGS = constants.O_WRONLY | constants.O_CREAT // no O_TRUNC: the block is overwritten in place

function encode(marker: Marker): Buffer {
  const text = JSON.stringify(marker)
  const line = `${crc32(text).toString(16).padStart(8, '0')} ${text}\n`
  if (line.length > BLOCK) throw new Error(`feed marker too long (${line.length} bytes)`)
  const block = Buffer.alloc(BLOCK, 0x20)
  block.write(line, 0, 'latin1')
  return block
}

export function writeMarker(path: string, marker: Marker): void {
  const block = encode(marker)
  const fd = openSync(path, FLAGS, 0o644)
  try {
    writeSync(fd, block, 0, BLOCK, 0)
    fdatasyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** `writeMarker` off the main thread (the periodic sync). */
export async function writeMarkerAsync(path: string, marker: Marker): Promise<void> {
  const block = encode(marker)
  const fh = await open(path, FLAGS, 0o644)
  try {
    await fh.write(block, 0, BLOCK, 0)
    await fh.datasync()
  } finally {
    await fh.close()
  }
}

export function readMarker(path: string): Marker | null {
  let text: string
  try {
    text = readFileSync(path, 'latin1')
  } catch {
    return null
  }
  const nl = text.indexOf('\n')
  if (nl < 10) return null
  const json = text.slice(9, nl)
  if (crc32(json).toString(16).padStart(8, '0') !== text.slice(0, 8)) return null
  try {
    const m = JSON.parse(json) as Partial<Marker>
    const ok = Number.isSafeInteger(m.end) && (m.last === null || typeof m.last === 'string')
    return ok ? { end: m.end!, last: m.last! } : null
  } catch {
    return null
  }
}
