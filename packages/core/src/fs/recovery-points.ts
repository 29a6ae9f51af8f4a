import {
  closeSync,
  constants,
  fdatasyncSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { StreamId, TenantId } from '../ids.js'
import { isStreamId, isTenantId } from '../ids.js'
import type { Logger } from '../ports/logger.js'
import { ensureDurableDir, fsyncDir } from './durable.js'

/**
 * How much of a stream file was acknowledged: its first `end` bytes, holding events up to `seq`
 * (0 when not known). Bytes at or before it are never a torn tail: damage there is corruption,
 * and a file shorter than it was cut (ADR 0011).
 */
export interface RecoveryPoint {
  end: number
  seq: number
}

/** A process's points file is closed and a new one started past this size. */
const ROTATE_BYTES = 4 * 1024 * 1024
/** Closed points files are merged into the base once there are this many. */
const MERGE_FILES = 16
const BASE = 'base.points'
/** How long a journal-less writer's points file must be left alone before it is merged. */
const UNJOURNALED_QUIET_MS = 10 * 60_000
const OWN_FILE = /^([a-z0-9]+-[a-z0-9]+)\.(\d{1,9})\.points$/

const keyOf = (tenant: TenantId, stream: StreamId) => `${tenant}/${stream}`

function encodeLine(key: string, p: RecoveryPoint): string {
  const body = `${key} ${p.end} ${p.seq}`
  return `${body} ${crc32(body).toString(16)}\n`
}

/** Adds the points in `text` to `into` (the highest wins); a line that fails its check is skipped. */
function parseInto(text: string, into: Map<string, RecoveryPoint>): void {
  for (const line of text.split('\n')) {
    const parts = line.split(' ')
    if (parts.length !== 4) continue
    const [key, endText, seqText, crc] = parts as [string, string, string, string]
    if (crc32(`${key} ${endText} ${seqText}`).toString(16) !== crc) continue // torn by a crash: never fsynced
    const slash = key.indexOf('/')
    if (!isTenantId(key.slice(0, slash)) || !isStreamId(key.slice(slash + 1))) continue
    const end = Number(endText)
    const seq = Number(seqText)
    if (!Number.isSafeInteger(end) || !Number.isSafeInteger(seq) || end < 0 || seq < 0) continue
    const had = into.get(key)
    if (had === undefined || end > had.end) into.set(key, { end, seq })
  }
}

/**
 * The recovery points of a data dir's streams, kept under `recovery/` as Kafka keeps its
 * recovery-point checkpoint: each process appends to its own file (`<owner>.<n>.points`) the
 * points it may claim (at a journal checkpoint, after the replay of a gone process's journal, and
 * before it lets go of a stream's lock); closed files are merged into `base.points` now and then.
 * Streams never shrink, so the highest point of a stream wins, and a point lost in a crash only
 * makes a stream's check weaker until the journal that still covers those bytes is replayed (its
 * replay records them again).
 *
 * Readers load every file once and look again (only at what was added) when a stream holds more
 * than its point and no live writer explains it.
 */
export class RecoveryPoints {
  readonly dir: string
  private points: Map<string, RecoveryPoint> | null = null
  /** How far each file was read (by name), and the base's identity (it is replaced when merged). */
  private readonly readTo = new Map<string, number>()
  private baseIno = -1

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'recovery')
  }

  /** The stream's point, or null when none was recorded (a stream older than recovery points). */
  get(tenant: TenantId, stream: StreamId): RecoveryPoint | null {
    this.points ??= this.load()
    return this.points.get(keyOf(tenant, stream)) ?? null
  }

  /** Reads what was added since the last look (cheap: a listing and the new bytes). */
  refresh(): void {
    if (this.points === null) this.points = this.load()
    else this.loadInto(this.points)
  }

  private load(): Map<string, RecoveryPoint> {
    const points = new Map<string, RecoveryPoint>()
    this.loadInto(points)
    return points
  }

  private loadInto(points: Map<string, RecoveryPoint>): void {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return // none yet
    }
    // owners' files before the base: a merge writes the base before it removes the files it took
    for (const name of names) if (OWN_FILE.test(name)) this.readNew(name, points)
    this.readNew(BASE, points)
  }

  private readNew(name: string, points: Map<string, RecoveryPoint>): void {
    let fd: number
    try {
      fd = openSync(join(this.dir, name), constants.O_RDONLY)
    } catch {
      return // merged and removed meanwhile (its points are in the base)
    }
    try {
      const st = fstatSync(fd)
      if (name === BASE && st.ino !== this.baseIno) {
        this.baseIno = st.ino
        this.readTo.set(name, 0)
      }
      const from = this.readTo.get(name) ?? 0
      if (st.size <= from) return
      const buf = readFileSync(fd)
      // only whole lines: a line being appended right now is read next time
      const upTo = buf.lastIndexOf(10) + 1
      if (upTo <= from) return
      parseInto(buf.subarray(from, upTo).toString('utf8'), points)
      this.readTo.set(name, upTo)
    } finally {
      closeSync(fd)
    }
  }

  /** Notes a point this process wrote itself (no need to read it back). */
  learn(key: string, p: RecoveryPoint): void {
    const had = this.points?.get(key)
    if (this.points !== null && (had === undefined || p.end > had.end)) this.points.set(key, p)
  }

  /**
   * Merges the closed points files (of owners not in `live`, or older files of live owners) into
   * the base, when there are enough of them. Caller holds the journal's recovery lock.
   */
  merge(live: ReadonlySet<string>, logger: Logger): void {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return
    }
    const newest = new Map<string, number>()
    for (const name of names) {
      const m = OWN_FILE.exec(name)
      if (m) newest.set(m[1]!, Math.max(newest.get(m[1]!) ?? 0, Number(m[2])))
    }
    const closed = names.filter((name) => {
      const m = OWN_FILE.exec(name)
      if (m === null) return false
      if (Number(m[2]) < newest.get(m[1]!)!) return true // rotated: its owner writes a newer one
      if (live.has(m[1]!)) return false
      // a log without a journal has no owner lock to ask: its file is closed once it is quiet
      return !m[1]!.startsWith('nj-') || Date.now() - statSync(join(this.dir, name)).mtimeMs > UNJOURNALED_QUIET_MS
    })
    if (closed.length < MERGE_FILES) return
    const merged = new Map<string, RecoveryPoint>()
    try {
      for (const name of closed) parseInto(readFileSync(join(this.dir, name), 'utf8'), merged)
      try {
        parseInto(readFileSync(join(this.dir, BASE), 'utf8'), merged)
      } catch {
        // the first merge
      }
      const tmp = join(this.dir, `${BASE}.tmp`)
      let text = ''
      for (const [key, p] of merged) text += encodeLine(key, p)
      writeFileSync(tmp, text, { mode: 0o600, flush: true })
      renameSync(tmp, join(this.dir, BASE))
      fsyncDir(this.dir)
      for (const name of closed) unlinkSync(join(this.dir, name))
    } catch (err) {
      logger.warn('recovery points could not be merged (they stay as they are)', { error: (err as Error).message })
    }
  }
}

/**
 * One process's side: appends points to its own file. `sync` (for a log without a journal, whose
 * points no journal replay would restore) makes each write durable before it returns.
 */
export class PointsWriter {
  private fd: number | null = null
  private n = 0
  private bytes = 0
  private failed = false

  constructor(
    private readonly points: RecoveryPoints,
    readonly owner: string,
    private readonly options: { sync: boolean; logger: Logger },
  ) {}

  /** Appends these points; returns false if they could not be written (a stream's check is then weaker, never wrong). */
  write(
    batch: Iterable<{ tenant: TenantId; stream: StreamId; end: number; seq: number }>,
    sync = this.options.sync,
  ): boolean {
    let text = ''
    for (const p of batch) {
      const key = keyOf(p.tenant, p.stream)
      text += encodeLine(key, p)
      this.points.learn(key, p)
    }
    if (text === '' || this.failed) return !this.failed
    try {
      const fd = this.target()
      const buf = Buffer.from(text)
      if (writeSync(fd, buf) !== buf.length) throw new Error('short write')
      if (sync) fdatasyncSync(fd)
      this.bytes += buf.length
      return true
    } catch (err) {
      this.failed = true
      this.options.logger.error('recovery points could not be written', { error: (err as Error).message })
      return false
    }
  }

  /** Makes what was written durable (a checkpoint calls it before its journal segment goes). */
  sync(): void {
    if (this.fd !== null) fdatasyncSync(this.fd)
  }

  private target(): number {
    if (this.fd !== null && this.bytes < ROTATE_BYTES) return this.fd
    if (this.fd !== null) {
      fdatasyncSync(this.fd)
      closeSync(this.fd)
    }
    ensureDurableDir(this.points.dir)
    this.n++
    this.bytes = 0
    this.fd = openSync(
      join(this.points.dir, `${this.owner}.${this.n}.points`),
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
      0o600,
    )
    fsyncDir(this.points.dir)
    return this.fd
  }

  close(): void {
    if (this.fd === null) return
    try {
      fdatasyncSync(this.fd)
    } finally {
      closeSync(this.fd)
      this.fd = null
    }
  }
}

export { keyOf as pointKey }
