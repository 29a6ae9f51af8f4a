import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type {
  CapacityLedger,
  LedgerObservation,
  LedgerReservation,
  LedgerReserveRequest,
  LedgerReserveResult,
  LedgerUsage,
} from '../ports/capacity-ledger.js'
import type { WindowBook } from '../capacity/window-book.js'
import {
  compactBook,
  emptyBook,
  normalizeBook,
  observeIn,
  reserveIn,
  settleIn,
  usageOf,
} from '../capacity/window-book.js'
import { FileLock } from './file-lock.js'

/** A source id as a file name: itself when plain, else a hash of it. */
function fileName(source: string): string {
  return /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/.test(source)
    ? source
    : `h-${createHash('sha256').update(source).digest('hex').slice(0, 32)}`
}

/**
 * The rate windows of every process on a data dir: `<dir>/<source>.json`, read and rewritten
 * under `<source>.lock` (the FileLock every other lock of the data dir uses: O_EXCL create, and a
 * holder that died is judged gone and its lock broken). A turn holds the lock for one read, one
 * small write and one rename, all synchronous, so it is held for well under a millisecond and no
 * other work of this process runs inside it. Not fsynced: the windows are not durable state (a
 * lost update after a power cut costs at most a minute of accuracy), and an fsync per call would
 * cost more than the call's admission is worth. The file is replaced by rename, so a reader never
 * sees half of one.
 */
export class FsCapacityLedger implements CapacityLedger {
  private readonly locks = new Map<string, FileLock>()
  /** Turns of this process, one at a time per source (the lock file orders the processes). */
  private readonly queues = new Map<string, Promise<unknown>>()
  private readonly prefix = randomBytes(6).toString('hex')
  private seq = 0
  private made = false

  /** Nothing is written until a first call is reserved: a process that calls no model leaves the data dir as it is. */
  constructor(
    private readonly dir: string,
    private readonly options: { lockTimeoutMs?: number } = {},
  ) {}

  private nextId(): string {
    return `${this.prefix}.${++this.seq}`
  }

  private lock(source: string): FileLock {
    let l = this.locks.get(source)
    if (!l) {
      l = new FileLock(join(this.dir, `${fileName(source)}.lock`), { timeoutMs: this.options.lockTimeoutMs ?? 10_000 })
      this.locks.set(source, l)
    }
    return l
  }

  private read(path: string): WindowBook {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyBook()
      throw err
    }
    try {
      return normalizeBook(JSON.parse(text))
    } catch {
      return emptyBook() // a file that is not ours to read: windows restart empty, as after a restart
    }
  }

  /** Runs `fn` on the source's book under its lock, and writes the book back when it says it changed it. */
  private turn<T>(source: string, fn: (book: WindowBook) => { value: T; changed: boolean }): Promise<T> {
    const previous = this.queues.get(source) ?? Promise.resolve()
    const next = previous.then(async () => {
      if (!this.made) {
        mkdirSync(this.dir, { recursive: true })
        this.made = true
      }
      const lock = this.lock(source)
      if (!lock.tryAcquire()) await lock.acquire()
      try {
        const path = join(this.dir, `${fileName(source)}.json`)
        const book = this.read(path)
        const out = fn(book)
        if (out.changed) {
          const tmp = `${path}.${this.prefix}.tmp`
          writeFileSync(tmp, JSON.stringify(compactBook(book)))
          renameSync(tmp, path)
        }
        return out.value
      } finally {
        lock.release()
      }
    })
    this.queues.set(
      source,
      next.catch(() => undefined),
    )
    return next
  }

  reserve(o: LedgerReserveRequest): Promise<LedgerReserveResult> {
    return this.turn(o.source, (book) => {
      const value = reserveIn(book, { ...o, id: this.nextId() })
      // a refusal changes only expiry, which the next writer does anyway: nothing to write back
      return { value, changed: value.ok }
    })
  }

  settle(o: { source: string; reservation: LedgerReservation; tokens: number }): Promise<void> {
    return this.turn(o.source, (book) => ({ value: settleIn(book, o.reservation, o.tokens), changed: true }))
  }

  observe(o: LedgerObservation): Promise<void> {
    return this.turn(o.source, (book) => ({ value: observeIn(book, o, () => this.nextId()), changed: true }))
  }

  usage(o: { source: string; now: number; slackMs: number }): Promise<LedgerUsage> {
    return this.turn(o.source, (book) => ({ value: usageOf(book, o.now, o.slackMs), changed: false }))
  }
}
