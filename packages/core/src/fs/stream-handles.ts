import type { StreamId, TenantId } from '../ids.js'
import type { Pending } from './append-plan.js'
import type { FileLock } from './file-lock.js'
import { streamPath } from './paths.js'
import type { StreamState } from './stream-file.js'
import { closeQuietly } from './stream-file.js'

/** What a writer keeps for a stream it appends to. */
export interface Handle {
  key: string
  tenant: TenantId
  stream: StreamId
  path: string
  fd: number | null
  state: StreamState | null
  pending: Pending[]
  flushing: Promise<void> | null
  lock: FileLock | null
  /** Date.now() of the last append: for LRU eviction and idle lock release. */
  lastUsed: number
  /** The file was created by this handle and its directory not yet fsynced. */
  dirUnsynced: boolean
  /** Journaled commits not yet written to the file, which go at `unwrittenAt` (see WriteBehind). */
  unwritten: Buffer[]
  unwrittenAt: number
  unwrittenBytes: number
  /** The stream's recovery point as this writer last recorded it (see RecoveryPoints). */
  pointEnd: number
}

const isIdle = (h: Handle) => h.flushing === null && h.pending.length === 0

/**
 * The streams a writer has open. At most `maxOpen` are kept (the least recently used idle ones
 * are closed), and a stream's lock is released after `lockIdleMs` without appends, so other
 * processes can write it, unless `mayRelease` says no.
 */
export class StreamHandles {
  private readonly handles = new Map<string, Handle>()
  private sweeper: NodeJS.Timeout | null = null

  constructor(
    private readonly options: {
      dataDir: string
      maxOpen?: number | undefined
      lockIdleMs?: number | undefined
      mayRelease: () => boolean
      /** Called before a stream's lock is released or its file closed; throwing keeps both. */
      settle: (h: Handle) => void
    },
  ) {}

  /** The stream's handle if it is open. */
  find(tenant: TenantId, stream: StreamId): Handle | undefined {
    return this.handles.get(`${tenant}/${stream}`)
  }

  /** The stream's handle, opened (without a file yet) if needed; marks it used now. */
  use(tenant: TenantId, stream: StreamId): Handle {
    const key = `${tenant}/${stream}`
    let h = this.handles.get(key)
    if (h) {
      h.lastUsed = Date.now()
      return h
    }
    h = {
      key,
      tenant,
      stream,
      path: streamPath(this.options.dataDir, tenant, stream),
      fd: null,
      state: null,
      pending: [],
      flushing: null,
      lock: null,
      lastUsed: Date.now(),
      dirUnsynced: false,
      unwritten: [],
      unwrittenAt: 0,
      unwrittenBytes: 0,
      pointEnd: 0,
    }
    this.handles.set(key, h)
    this.evictIdle()
    this.sweeper ??= setInterval(() => this.releaseIdleLocks(), this.options.lockIdleMs ?? 2000).unref()
    return h
  }

  all(): IterableIterator<Handle> {
    return this.handles.values()
  }

  private evictIdle(): void {
    const max = this.options.maxOpen ?? 512
    if (this.handles.size <= max) return
    // close the least recently used idle quarter in one go, so this scan stays rare
    const idle = [...this.handles.values()].filter(isIdle)
    idle.sort((a, b) => a.lastUsed - b.lastUsed)
    for (const h of idle.slice(0, Math.max(1, Math.floor(max / 4)))) {
      if (!this.settled(h)) continue
      h.lock?.release()
      closeQuietly(h.fd)
      this.handles.delete(h.key)
    }
  }

  /** Lets other processes append to streams this one has stopped writing (fd and state are kept). */
  private releaseIdleLocks(): void {
    if (!this.options.mayRelease()) return
    const before = Date.now() - (this.options.lockIdleMs ?? 2000)
    for (const h of this.handles.values()) {
      if (h.lock?.isHeld && h.lastUsed < before && isIdle(h) && this.settled(h)) h.lock.release()
    }
  }

  private settled(h: Handle): boolean {
    try {
      this.options.settle(h)
      return true
    } catch {
      return false // reported by the settle hook's owner
    }
  }

  /** Releases every lock and closes every file (the writer has no commit running). */
  close(): void {
    if (this.sweeper) clearInterval(this.sweeper)
    for (const h of this.handles.values()) {
      // a stream whose journaled bytes could not be written keeps its lock until the process ends
      if (this.settled(h)) h.lock?.release()
      closeQuietly(h.fd)
    }
    this.handles.clear()
  }
}
