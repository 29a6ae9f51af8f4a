import { randomBytes } from 'node:crypto'
import {
  closeSync,
  constants,
  existsSync,
  linkSync,
  lstatSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { close, open, write } from 'node:fs'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { ShiiooError } from '../errors.js'
import type { LockIdentity } from './lock-identity.js'
import { declareGone, identityPath } from './lock-identity.js'
import type { LockOwner } from './owners.js'
import { judgeOwner, readOwner, selfIdentity } from './owners.js'

export interface FileLockOptions {
  /** How long `acquire` waits for a lock held by a live process before giving up (UNAVAILABLE). */
  timeoutMs?: number
  /** Take the lock by hard-linking this owner's identity file: one syscall instead of three. */
  identity?: LockIdentity
  /**
   * Called once the holder of the lock is known to be gone (and declared so), before its lock is
   * broken: e.g. to replay its journal, so the resource holds everything it acknowledged. Returning
   * false leaves the lock in place for now (the caller tries again later).
   */
  beforeBreak?: (owner: LockOwner) => boolean
}

export type { LockOwner }

/**
 * The owner named in the lock (or identity) file at `path` while it may still be running (see
 * judgeOwner); null if the file is gone or its owner is. `locksDir` holds the identity files.
 */
export function liveOwnerOf(path: string, locksDir: string): LockOwner | null {
  const o = readOwner(path)
  if (o === null) return null
  let mtime: number
  try {
    mtime = lstatSync(path).mtimeMs
  } catch {
    return null
  }
  return judgeOwner(o, mtime, existsSync(identityPath(locksDir, o))) === null ? o : null
}

const openAsync = promisify(open)
const writeAsync = promisify(write) as (fd: number, text: string) => Promise<unknown>
const closeAsync = promisify(close)

/**
 * A lock file next to the resource: a hard link to its owner's identity file (see LockIdentity),
 * or where no link can be made a standalone file created with O_EXCL, holding its owner's pid,
 * host, kernel boot, pid namespace, start time, nonce and TTL. A writer holds it for as long as
 * it keeps the resource open. A lock whose holder is gone (see judgeOwner: provably dead on this
 * kernel, or its heartbeat silent past its TTL on any host) is broken: the holder is first
 * declared gone (so it can acknowledge nothing more), `beforeBreak` runs, then the lock is renamed
 * aside and its nonce checked, so two breakers cannot both win.
 */
export class FileLock {
  private readonly owner: LockOwner
  private held = false

  constructor(
    readonly path: string,
    private readonly options: FileLockOptions = {},
  ) {
    this.owner = options.identity?.owner ?? { ...selfIdentity(), nonce: randomBytes(8).toString('hex') }
  }

  get isHeld(): boolean {
    return this.held
  }

  /** Tries once; false when another live owner holds it. */
  tryAcquire(): boolean {
    if (this.held) return true
    for (let attempt = 0; attempt < 3; attempt++) {
      const linked = this.tryLink()
      if (linked === true) return true
      if (linked === null)
        try {
          const fd = openSync(this.path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600)
          try {
            writeSync(fd, this.standaloneContent())
          } finally {
            closeSync(fd)
          }
          this.takeStandalone()
          return true
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        }
      if (!this.breakIfStale()) return false
    }
    return false
  }

  /** true: taken by link; false: the lock exists; null: no identity to link (create the file). */
  private tryLink(): boolean | null {
    const id = this.options.identity?.path()
    if (!id) return null
    try {
      linkSync(id, this.path)
      this.held = true
      return true
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') return false
      if (code === 'EXDEV' || code === 'EMLINK' || code === 'EPERM') return null
      throw err
    }
  }

  private standaloneContent(): string {
    return JSON.stringify({ ...this.owner, standalone: true })
  }

  private takeStandalone(): void {
    this.held = true
    this.options.identity?.track(this.path)
  }

  /**
   * `tryAcquire` with the lock file created off the main thread: creating a file can wait behind
   * a journal commit of the disk, which would stall every other stream's work.
   */
  async tryAcquireAsync(): Promise<boolean> {
    if (this.held) return true
    if (this.options.identity?.path()) return this.tryAcquire() // one link: no need to leave the thread
    let fd: number
    try {
      fd = await openAsync(this.path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      return this.tryAcquire() // taken (or stale): the careful synchronous path decides
    }
    try {
      await writeAsync(fd, this.standaloneContent())
    } finally {
      await closeAsync(fd)
    }
    this.takeStandalone()
    return true
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + (this.options.timeoutMs ?? 10_000)
    let wait = 1
    while (!this.tryAcquire()) {
      if (Date.now() >= deadline) {
        const o = readOwner(this.path)
        throw new ShiiooError(
          'UNAVAILABLE',
          `${this.path} is locked by process ${o?.pid ?? '?'} on ${o?.host ?? '?'}; try again`,
          { retryable: true },
        )
      }
      signal?.throwIfAborted()
      await sleep(wait)
      wait = Math.min(wait * 2, 50)
    }
  }

  /** Whether the lock file is still this holder's (nobody judged it gone and broke it). */
  stillHeld(): boolean {
    if (!this.held) return false
    if (this.options.identity?.owns(this.path)) return true
    return readOwner(this.path)?.nonce === this.owner.nonce
  }

  release(): void {
    if (!this.held) return
    this.held = false
    this.options.identity?.untrack(this.path)
    if (!this.options.identity?.owns(this.path)) {
      const o = readOwner(this.path)
      if (o !== null && o.nonce !== this.owner.nonce) return // broken and re-taken by another: not ours
    }
    try {
      unlinkSync(this.path)
    } catch {
      // already gone
    }
  }

  /** True when the lock was broken (or vanished) and taking it may be tried again. */
  private breakIfStale(): boolean {
    const o = readOwner(this.path)
    let mtime: number
    try {
      mtime = lstatSync(this.path).mtimeMs
    } catch {
      return true // released meanwhile: try again
    }
    if (o === null) {
      // no owner yet: its creator is between open and write, unless it died right there
      if (Date.now() - mtime < 10_000) return false
    } else if (o.nonce === this.owner.nonce) {
      return false // ours, taken through another lock object of this identity
    } else {
      const locks = this.options.identity?.dir
      const present = locks === undefined || o.standalone === true || existsSync(identityPath(locks, o))
      if (judgeOwner(o, mtime, present) === null) return false
      // from here the holder can acknowledge nothing: what it acknowledged before is what counts
      if (locks !== undefined && !o.standalone && present && !declareGone(locks, o)) return false
      if (this.options.beforeBreak && !this.options.beforeBreak(o)) return false
    }
    const aside = `${this.path}.stale-${this.owner.nonce}`
    try {
      renameSync(this.path, aside)
    } catch {
      return true // someone else moved it first
    }
    const moved = readOwner(aside)
    if (o !== null && moved?.nonce !== o.nonce) {
      // we moved a fresh lock that replaced the stale one: put it back unless a newer one exists
      try {
        linkSync(aside, this.path)
      } catch {
        // a newer lock exists; the fresh owner sees the nonce mismatch on release
      }
    }
    try {
      unlinkSync(aside)
    } catch {
      // gone already
    }
    return true
  }
}
