import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TenantId } from '../ids.js'
import { parseTenantId } from '../ids.js'
import { ShiiooError } from '../errors.js'
import type { LeaseGrant, LeaseHolder, LeaseRequest, Leases } from '../ports/leases.js'
import { FileLock, liveOwnerOf } from './file-lock.js'
import type { LockIdentity } from './lock-identity.js'
import { DEFAULT_LEASE_TTL_MS } from './owners.js'
import { tenantRoot } from './paths.js'

const NAME = /^[a-z0-9_.-]{1,120}$/i

/**
 * Leases as lock files under `<tenant root>/leases/<name>.lock`, each a hard link to the holder's
 * identity file, whose heartbeat renews them all (see LockIdentity and judgeOwner).
 *
 * The fencing token of a name is kept in `<name>.fence` only once it is needed: a first
 * acquisition (no record, no lock to break) gets fence 1 and writes nothing, so starting a run
 * costs one link. Every other acquisition gets the recorded fence plus one and records it; a
 * release that keeps the name alive records the fence it had; a retiring release (the run ended)
 * removes the record. So fences grow with every acquisition of a name that has not been retired.
 */
export class FsLeases implements Leases {
  private readonly dirs = new Set<string>()
  /** Grants not yet released: all lost at once when this process is declared gone (one listener, not one per grant). */
  private readonly live = new Set<FsLeaseGrant>()

  constructor(
    private readonly options: {
      dataDir: string
      identity: LockIdentity
      /**
       * Runs when a gone holder's lease is about to be taken over (after it was declared gone):
       * the event log replays its journal here, so the new holder reads everything it
       * acknowledged. False defers the takeover (acquire answers null; try again later).
       */
      beforeTakeover?: () => boolean
    },
  ) {
    const { identity } = options
    identity.lost.addEventListener('abort', () => {
      for (const grant of this.live) grant.lose(identity.lost.reason as ShiiooError)
      this.live.clear()
    })
  }

  async acquire(request: LeaseRequest): Promise<FsLeaseGrant | null> {
    request.signal?.throwIfAborted()
    const { identity } = this.options
    if (identity.lost.aborted) throw identity.lost.reason as ShiiooError
    const dir = this.dir(request.tenant, request.name)
    let tookOver = false
    const lock = new FileLock(join(dir, `${request.name}.lock`), {
      identity,
      beforeBreak: () => (tookOver = this.options.beforeTakeover?.() ?? true),
    })
    if (!lock.tryAcquire()) return null
    const fencePath = join(dir, `${request.name}.fence`)
    const recorded = readFence(fencePath)
    let fence = 1
    if (recorded !== null || tookOver) {
      fence = Math.max(recorded ?? 0, 1) + 1
      try {
        writeFence(fencePath, fence)
      } catch (err) {
        lock.release()
        throw err
      }
    }
    const grant = new FsLeaseGrant(
      parseTenantId(request.tenant),
      request.name,
      fence,
      lock,
      fencePath,
      recorded !== null || tookOver,
      identity,
      () => this.live.delete(grant),
      request.onLost,
    )
    this.live.add(grant)
    return grant
  }

  async holder(request: { tenant: TenantId; name: string }): Promise<LeaseHolder | null> {
    const path = join(this.dir(request.tenant, request.name), `${request.name}.lock`)
    const o = liveOwnerOf(path, this.options.identity.dir)
    if (o === null) return null
    let silentMs: number
    try {
      silentMs = Math.max(0, Date.now() - lstatSync(path).mtimeMs)
    } catch {
      return null
    }
    return { pid: o.pid, host: o.host, silentMs, ttlMs: o.ttlMs ?? DEFAULT_LEASE_TTL_MS }
  }

  private dir(tenant: TenantId, name: string): string {
    if (!NAME.test(name))
      throw new ShiiooError('INVALID_INPUT', `lease name "${name}" is not letters, digits, _, . or -`)
    const dir = join(tenantRoot(this.options.dataDir, parseTenantId(tenant)), 'leases')
    if (!this.dirs.has(dir)) {
      mkdirSync(dir, { recursive: true })
      this.dirs.add(dir)
    }
    return dir
  }
}

export class FsLeaseGrant implements LeaseGrant {
  private released = false
  /** Made when someone asks for `lost`; most holders only need `onLost`. */
  private controller: AbortController | null = null
  private lostReason: ShiiooError | null = null

  constructor(
    readonly tenant: TenantId,
    readonly name: string,
    readonly fence: number,
    private readonly lock: FileLock,
    private readonly fencePath: string,
    private recorded: boolean,
    readonly identity: LockIdentity,
    private readonly forget: () => void,
    private readonly onLost: ((reason: Error) => void) | undefined,
  ) {}

  /** Marks the lease lost (its FsLeases calls it when this process was declared gone). */
  lose(reason: ShiiooError): void {
    if (this.lostReason !== null) return
    this.lostReason = reason
    this.forget()
    this.controller?.abort(reason)
    this.onLost?.(reason)
  }

  get lost(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController()
      if (this.lostReason !== null) this.controller.abort(this.lostReason)
    }
    return this.controller.signal
  }

  /** Whether writes under this grant may be acknowledged (the log also checks the identity after writing). */
  get current(): boolean {
    return !this.released && this.lostReason === null
  }

  async renew(): Promise<boolean> {
    if (!this.current) return false
    if (!this.identity.renew() || !this.lock.stillHeld()) {
      this.lose(
        (this.identity.lost.reason as ShiiooError | undefined) ??
          new ShiiooError('LEASE_LOST', `the lease on ${this.name} was taken over by another process`),
      )
      return false
    }
    return true
  }

  async release(options: { retire?: boolean } = {}): Promise<void> {
    if (this.released) return
    this.released = true
    this.forget()
    // a retired name with no fencing record (a run that was never taken over) has nothing to tidy:
    // releasing it costs one unlink, as taking it cost one link
    const tidy = options.retire ? this.recorded : !this.recorded
    if (tidy && this.lock.stillHeld() && !this.identity.lost.aborted) {
      if (options.retire) rmSync(this.fencePath, { force: true })
      else writeFence(this.fencePath, this.fence)
      this.recorded = !options.retire
    }
    this.lock.release()
  }
}

function readFence(path: string): number | null {
  // most names never had a fencing record: a failed open would cost an exception each (about 10 us)
  if (!existsSync(path)) return null
  try {
    const n = Number(readFileSync(path, 'utf8'))
    return Number.isSafeInteger(n) && n > 0 ? n : null
  } catch {
    return null
  }
}

/** Written aside and renamed into place: a reader sees the old fence or the new one. */
function writeFence(path: string, fence: number): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, String(fence))
  renameSync(tmp, path)
}
