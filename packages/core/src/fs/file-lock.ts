import { randomBytes } from 'node:crypto'
import {
  closeSync,
  constants,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { close, open, write } from 'node:fs'
import { hostname } from 'node:os'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { ShiiooError } from '../errors.js'

export interface FileLockOptions {
  /** How long `acquire` waits for a lock held by a live process before giving up (UNAVAILABLE). */
  timeoutMs?: number
  /** Take the lock by hard-linking this owner's identity file: one syscall instead of three. */
  identity?: LockIdentity
}

export interface LockOwner {
  pid: number
  host: string
  /** The owner process's start time (Linux), so a reused pid is not mistaken for the owner. */
  start: string | null
  nonce: string
}

/** Linux: field 22 of /proc/<pid>/stat, the process start time in clock ticks; null elsewhere. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

/** Whether a lock's owner may still run: a live process here, or any process on another host (not checkable). */
function mayBeAlive(o: LockOwner): boolean {
  return o.host !== selfIdentity().host || ownerAlive(o)
}

/** Whether a lock or identity file names this very process. */
export function isThisProcess(o: Pick<LockOwner, 'pid' | 'host'>): boolean {
  const me = selfIdentity()
  return o.pid === me.pid && o.host === me.host
}

function ownerAlive(o: LockOwner): boolean {
  try {
    process.kill(o.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (o.start === null) return true
  const now = processStart(o.pid)
  return now === null || now === o.start
}

function readOwner(path: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner
  } catch {
    return null // vanished, or its creator is writing it right now
  }
}

const openAsync = promisify(open)
const writeAsync = promisify(write) as (fd: number, text: string) => Promise<unknown>
const closeAsync = promisify(close)

let self: { pid: number; host: string; start: string | null } | null = null
function selfIdentity() {
  self ??= { pid: process.pid, host: hostname(), start: processStart(process.pid) }
  return self
}

/**
 * One owner's identity (pid, host, start time, nonce) written once to a file, so that a lock is
 * taken with a single `link(identity, lock)`: atomic, and the lock file has its owner's content
 * from its first instant. Where a link cannot be made (another filesystem, too many links), locks
 * fall back to creating the file.
 */
export class LockIdentity {
  readonly owner: LockOwner
  private file: string | null = null
  private ino = -1

  constructor(private readonly dir: string) {
    this.owner = { ...selfIdentity(), nonce: randomBytes(8).toString('hex') }
  }

  /** The identity file, written on first use; null if it cannot be. */
  path(): string | null {
    if (this.file === null) {
      const file = join(this.dir, `${this.owner.nonce}.owner`)
      try {
        mkdirSync(this.dir, { recursive: true })
        writeFileSync(file, JSON.stringify(this.owner), { flag: 'wx', mode: 0o600 })
        this.ino = statSync(file).ino
        this.file = file
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

  /** Removes the identity file (locks still linked to it keep their content). */
  dispose(): void {
    if (this.file) rmSync(this.file, { force: true })
    this.file = null
    this.ino = -1
  }
}

/**
 * The owner named in the lock (or identity) file at `path` if it may still be running: a live
 * process on this host, or any process on another host (which cannot be checked). Null if the
 * file is gone or its owner is dead.
 */
export function liveOwnerOf(path: string): LockOwner | null {
  const o = readOwner(path)
  return o !== null && mayBeAlive(o) ? o : null
}

/** Deletes identity files in `dir` whose owner process is gone. */
export function sweepDeadIdentities(dir: string): void {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    if (!name.endsWith('.owner')) continue
    const o = readOwner(join(dir, name))
    if (o !== null && !mayBeAlive(o)) rmSync(join(dir, name), { force: true })
  }
}

/**
 * A lock file next to the resource, created with O_EXCL (or linked to its owner's identity file)
 * and holding its owner's pid, host, start time and a nonce. A writer holds it for as long as it keeps the resource open. A lock whose
 * owner process is gone (pid dead, or reused by another process) is broken by renaming it aside
 * and checking the nonce, so two breakers cannot both win.
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
      await writeAsync(fd, JSON.stringify(this.owner))
    } finally {
      await closeAsync(fd)
    }
    this.held = true
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
          {
            retryable: true,
          },
        )
      }
      signal?.throwIfAborted()
      await sleep(wait)
      wait = Math.min(wait * 2, 50)
    }
  }

  release(): void {
    if (!this.held) return
    this.held = false
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

  private breakIfStale(): boolean {
    const o = readOwner(this.path)
    if (o === null) {
      // no owner yet: its creator is between open and write, unless it died right there
      let age: number
      try {
        age = Date.now() - statSync(this.path).mtimeMs
      } catch {
        return true // released meanwhile: try again
      }
      if (age < 10_000) return false
    } else if (mayBeAlive(o)) {
      return false
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
