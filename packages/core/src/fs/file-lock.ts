import { randomBytes } from 'node:crypto'
import {
  closeSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  constants,
  linkSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { ShiiooError } from '../errors.js'

export interface FileLockOptions {
  /** How long to wait for a lock held by a live process before giving up (UNAVAILABLE). */
  timeoutMs?: number
  /** A lock older than this is stale even if its pid is alive (pids get reused). */
  staleMs?: number
}

interface LockOwner {
  pid: number
  host: string
  nonce: string
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner
  } catch {
    return null // vanished, or being written right now
  }
}

/**
 * A lock file next to the resource: created with O_EXCL, holding the owner's pid and a nonce.
 * Locks are held only for the length of one write + fsync, so a lock whose process is dead, or
 * that is older than `staleMs`, is broken. Breaking renames the lock aside and checks it was the
 * stale one, so two processes breaking at once cannot both win.
 */
export class FileLock {
  private readonly owner: LockOwner = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex') }
  private held = false

  constructor(
    readonly path: string,
    private readonly options: FileLockOptions = {},
  ) {}

  /** Tries once; false when another live owner holds it. */
  tryAcquire(): boolean {
    if (this.held) throw new ShiiooError('INTERNAL', `lock ${this.path} acquired twice by one owner`)
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(this.path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600)
        try {
          writeSync(fd, JSON.stringify(this.owner))
        } finally {
          closeSync(fd)
        }
        this.held = true
        return true
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      if (!this.breakIfStale()) return false
    }
    return false
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
          {
            retryable: true,
          },
        )
      }
      signal?.throwIfAborted()
      await sleep(wait)
      wait = Math.min(wait * 2, 25)
    }
  }

  release(): void {
    if (!this.held) return
    this.held = false
    try {
      // held for one commit only, far below staleMs, so nobody can have broken it: just remove it
      unlinkSync(this.path)
    } catch {
      // already gone: a stale-lock breaker took it; nothing else to undo
    }
  }

  private breakIfStale(): boolean {
    let stat
    try {
      stat = statSync(this.path)
    } catch {
      return true // released meanwhile: try again
    }
    const o = readOwner(this.path)
    const tooOld = Date.now() - stat.mtimeMs > (this.options.staleMs ?? 60_000)
    if (o === null && !tooOld) return false // being written by its creator right now
    const dead = o !== null && o.host === hostname() && !pidAlive(o.pid)
    if (!dead && !tooOld) return false
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
        // a newer lock exists; the fresh owner will notice on release (nonce mismatch)
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
