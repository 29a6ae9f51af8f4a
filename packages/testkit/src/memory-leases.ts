import type { LeaseGrant, LeaseHolder, LeaseRequest, Leases, TenantId } from '@shiioo/core'
import { ShiiooError, parseTenantId } from '@shiioo/core'

interface Row {
  holder: number
  fence: number
  renewedAt: number
  released: boolean
}

/**
 * The shared state of in-memory leases, as a leases table in a database would hold it: one row
 * per name with its holder, fence and last renewal. Each `MemoryLeases` over it is one process.
 */
export class MemoryLeaseTable {
  readonly rows = new Map<string, Row>()
  private holders = 0

  constructor(
    readonly now: () => number = Date.now,
    readonly ttlMs = 15_000,
  ) {}

  nextHolder(): number {
    return ++this.holders
  }

  /** Makes a holder's lease look silent past its TTL (a paused process). */
  silence(tenant: TenantId, name: string): void {
    const row = this.rows.get(`${tenant}/${name}`)
    if (row) row.renewedAt = this.now() - this.ttlMs - 1
  }
}

/** In-memory leases for tests of code above the port; they pass the same conformance suite as FsLeases. */
export class MemoryLeases implements Leases {
  private readonly id: number

  constructor(readonly table: MemoryLeaseTable) {
    this.id = table.nextHolder()
  }

  async acquire(request: LeaseRequest): Promise<MemoryLeaseGrant | null> {
    request.signal?.throwIfAborted()
    const tenant = parseTenantId(request.tenant)
    if (!/^[a-z0-9_.-]{1,120}$/i.test(request.name))
      throw new ShiiooError('INVALID_INPUT', `lease name "${request.name}" is not letters, digits, _, . or -`)
    const key = `${tenant}/${request.name}`
    const row = this.table.rows.get(key)
    const now = this.table.now()
    if (row && !row.released && now - row.renewedAt <= this.table.ttlMs) return null
    const fence = (row?.fence ?? 0) + 1
    this.table.rows.set(key, { holder: this.id, fence, renewedAt: now, released: false })
    return new MemoryLeaseGrant(this.table, tenant, request.name, fence, request.onLost)
  }

  async holder(request: { tenant: TenantId; name: string }): Promise<LeaseHolder | null> {
    const row = this.table.rows.get(`${parseTenantId(request.tenant)}/${request.name}`)
    const silentMs = row ? this.table.now() - row.renewedAt : 0
    if (!row || row.released || silentMs > this.table.ttlMs) return null
    return { pid: row.holder, host: 'memory', silentMs, ttlMs: this.table.ttlMs }
  }
}

export class MemoryLeaseGrant implements LeaseGrant {
  private released = false
  private readonly controller = new AbortController()

  constructor(
    private readonly table: MemoryLeaseTable,
    readonly tenant: TenantId,
    readonly name: string,
    readonly fence: number,
    private readonly onLost: ((reason: Error) => void) | undefined,
  ) {}

  get lost(): AbortSignal {
    return this.controller.signal
  }

  /** The store's view: this grant's fence is the current one (as a database row check would say). */
  get current(): boolean {
    const row = this.table.rows.get(`${this.tenant}/${this.name}`)
    return !this.released && row?.fence === this.fence && !row.released
  }

  async renew(): Promise<boolean> {
    if (!this.current) {
      if (!this.released && !this.lost.aborted) {
        const reason = new ShiiooError('LEASE_LOST', `the lease on ${this.name} was taken over`)
        this.controller.abort(reason)
        this.onLost?.(reason)
      }
      return false
    }
    this.table.rows.get(`${this.tenant}/${this.name}`)!.renewedAt = this.table.now()
    return true
  }

  async release(options: { retire?: boolean } = {}): Promise<void> {
    if (this.released) return
    const key = `${this.tenant}/${this.name}`
    if (this.current) {
      if (options.retire) this.table.rows.delete(key)
      else this.table.rows.get(key)!.released = true
    }
    this.released = true
  }
}
