import { randomBytes } from 'node:crypto'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { ShiiooError } from '../errors.js'
import type { LockOwner } from './owners.js'
import { DEFAULT_LEASE_TTL_MS, judgeOwner, readOwner, selfIdentity } from './owners.js'

/**
 * One holder's identity (pid, host, kernel boot, pid namespace, start time, nonce, TTL) written
 * once to `<locks dir>/<nonce>.owner`, so that a lock is taken with a single
 * `link(identity, lock)`: atomic, and the lock file has its owner's content from its first instant.
 *
 * The identity is also the holder's heartbeat: every lock is a hard link to the same inode, so
 * touching the identity file every third of the TTL renews every lock the holder has at once
 * (their mtime is the identity's). A holder whose heartbeat is older than its TTL may be declared
 * gone by anyone (`declareGone`: its identity file is renamed away, atomically, so only one
 * declarer wins); from then on the holder can no longer write: the event log checks its identity
 * after every journal write and refuses to acknowledge once it is gone. Where a link cannot be
 * made (another filesystem, too many links), locks are created as standalone files and touched
 * one by one.
 */
export class LockIdentity {
  readonly owner: LockOwner
  private file: string | null = null
  private ino = -1
  private heartbeat: NodeJS.Timeout | null = null
  private readonly standalone = new Set<string>()
  private readonly lostController = new AbortController()

  constructor(
    readonly dir: string,
    options: { ttlMs?: number } = {},
  ) {
    this.owner = {
      ...selfIdentity(),
      nonce: randomBytes(8).toString('hex'),
      ttlMs: options.ttlMs ?? DEFAULT_LEASE_TTL_MS,
    }
  }

  get ttlMs(): number {
    return this.owner.ttlMs ?? DEFAULT_LEASE_TTL_MS
  }

  /** Aborted (with a LEASE_LOST error) once this holder finds it was declared gone. */
  get lost(): AbortSignal {
    return this.lostController.signal
  }

  /** The identity file, written on first use (which starts the heartbeat); null if it cannot be. */
  path(): string | null {
    if (this.lost.aborted) return null
    if (this.file === null) {
      const file = join(this.dir, `${this.owner.nonce}.owner`)
      try {
        mkdirSync(this.dir, { recursive: true })
        writeFileSync(file, JSON.stringify(this.owner), { flag: 'wx', mode: 0o600 })
        this.ino = statSync(file).ino
        this.file = file
        this.startHeartbeat()
      } catch {
        this.file = ''
      }
    }
    return this.file === '' ? null : this.file
  }

  /** Whether the lock file at `path` is a link to this identity. */
  owns(path: string): boolean {
    try {
      return this.ino >= 0 && lstatSync(path).ino === this.ino
    } catch {
      return false
    }
  }

  /**
   * Throws (and marks this identity lost) when another process has declared this holder gone:
   * called after a write that must not be acknowledged by a holder that lost its leases.
   */
  assertHeld(): void {
    if (this.lost.aborted) throw this.lost.reason as ShiiooError
    if (this.file === null || this.file === '') return // never took a linked lock: nothing to lose
    // The file's name is this holder's alone (its nonce; created with `wx`) and a declarer only
    // ever renames it away, so its presence is the identity's: an access(2), without the Stats
    // object an lstat makes (this runs after every journal write). The heartbeat compares inodes.
    if (existsSync(this.file)) return
    this.markLost()
    throw this.lost.reason as ShiiooError
  }

  /** Whether this holder still holds its identity (one access(2)); marks it lost when not. */
  held(): boolean {
    try {
      this.assertHeld()
      return true
    } catch {
      return false
    }
  }

  /** Standalone locks (see the class comment) are touched with the identity. */
  track(lockPath: string): void {
    this.standalone.add(lockPath)
    this.startHeartbeat()
  }

  untrack(lockPath: string): void {
    this.standalone.delete(lockPath)
  }

  /** Renews now (the heartbeat does it every third of the TTL). */
  renew(): boolean {
    if (this.lost.aborted) return false
    const now = Date.now() / 1000
    if (this.file) {
      try {
        utimesSync(this.file, now, now)
        if (lstatSync(this.file).ino !== this.ino) this.markLost()
      } catch {
        this.markLost()
      }
    }
    for (const path of this.standalone) {
      try {
        utimesSync(path, now, now)
      } catch {
        this.standalone.delete(path) // broken by someone who judged it gone
      }
    }
    return !this.lost.aborted
  }

  /** Stops the heartbeat and removes the identity file (locks still linked to it keep their content). */
  dispose(): void {
    if (this.heartbeat) clearInterval(this.heartbeat)
    this.heartbeat = null
    if (this.file && this.owns(this.file)) rmSync(this.file, { force: true })
    this.file = null
    this.ino = -1
  }

  private startHeartbeat(): void {
    if (this.heartbeat !== null) return
    this.heartbeat = setInterval(() => this.renew(), Math.max(10, Math.floor(this.ttlMs / 3)))
    this.heartbeat.unref()
  }

  private markLost(): void {
    if (this.lost.aborted) return
    if (this.heartbeat) clearInterval(this.heartbeat)
    this.heartbeat = null
    this.lostController.abort(
      new ShiiooError(
        'LEASE_LOST',
        `this process (pid ${this.owner.pid}) lost its leases: its heartbeat stopped for more than ` +
          `${this.ttlMs} ms (was it paused or frozen?) and another process took over its work. It writes ` +
          'nothing more to the data dir (an append in progress as it noticed may or may not be recorded: read ' +
          'the stream). Restart it.',
      ),
    )
  }
}

/** The identity file of the owner a lock names. */
export function identityPath(locksDir: string, o: Pick<LockOwner, 'nonce'>): string {
  return join(locksDir, `${o.nonce}.owner`)
}

/**
 * Declares a holder gone: renames its identity file away, so it can no longer acknowledge a write
 * (see LockIdentity) and every lock linked to it may be broken. True when it is gone now (by this
 * call or an earlier one).
 */
export function declareGone(locksDir: string, o: Pick<LockOwner, 'nonce'>): boolean {
  const path = identityPath(locksDir, o)
  const aside = `${path}.gone-${randomBytes(4).toString('hex')}`
  try {
    renameSync(path, aside)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT'
  }
  rmSync(aside, { force: true })
  return true
}

/** Deletes identity files in `dir` whose owner is gone (dead, or silent past its TTL). */
export function sweepDeadIdentities(dir: string, now: number = Date.now()): void {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    if (!name.endsWith('.owner')) continue
    const path = join(dir, name)
    const o = readOwner(path)
    let mtime: number
    try {
      mtime = lstatSync(path).mtimeMs
    } catch {
      continue
    }
    if (o !== null && judgeOwner(o, mtime, true, now) !== null) declareGone(dir, o)
  }
}
