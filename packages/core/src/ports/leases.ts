import type { TenantId } from '../ids.js'

export interface LeaseRequest {
  tenant: TenantId
  /** What is held, e.g. a run id: letters, digits, _, . or -. */
  name: string
  /**
   * Called once if the lease is lost (another holder took it over). The same news as the grant's
   * `lost` signal, without an event listener per lease (about 8 us each on Node 20).
   */
  onLost?: (reason: Error) => void
  signal?: AbortSignal
}

/**
 * A held lease. Its holder renews it in the background (a holder whose renewals stop for longer
 * than the TTL may be taken over by anyone); writes made under it carry it (`AppendRequest.lease`)
 * and a store refuses them once the lease is no longer current (LEASE_LOST), so a holder that was
 * paused past its TTL and wakes up cannot write.
 */
export interface LeaseGrant {
  readonly tenant: TenantId
  readonly name: string
  /** The fencing token: grows with every acquisition of this name. */
  readonly fence: number
  /** Aborted (with a ShiiooError) once the holder learns it lost the lease. */
  readonly lost: AbortSignal
  /** Renews now and says whether the lease is still held (the store also renews in the background). */
  renew(): Promise<boolean>
  /**
   * Gives the lease up. `retire`: the name will never be leased again (the run it guarded has
   * ended), so the store may forget its fencing record.
   */
  release(options?: { retire?: boolean }): Promise<void>
}

/** Who holds a lease, as far as the store can tell. */
export interface LeaseHolder {
  pid: number
  host: string
  /** How long ago the holder last renewed, and how long it may stay silent. */
  silentMs: number
  ttlMs: number
}

/**
 * Exclusive ownership of named work (a run being driven, a journal, a routine tick) among the
 * processes sharing a store, in the manner of Chubby and etcd leases with Kleppmann's fencing
 * tokens: a lease has an owner, an expiry its holder renews, and a fence that grows with every
 * acquisition. A lease not renewed within its TTL can be taken by anyone, whatever host it names;
 * a holder provably gone (no process, a zombie, a reused pid) is taken over at once. The embedded
 * store keeps leases as lock files linked to the holder's heartbeat file; a cluster store keeps
 * them in Postgres rows.
 */
export interface Leases {
  /** The lease, or null while a live holder has it. */
  acquire(request: LeaseRequest): Promise<LeaseGrant | null>
  /** The live holder of a lease, or null when none holds it (or its holder is gone). */
  holder(request: { tenant: TenantId; name: string }): Promise<LeaseHolder | null>
}
