import type { TenantId } from '../ids.js'

/** Held work: while a process holds a run's lease, no other process drives that run. */
export interface Lease {
  readonly name: string
  release(): void
}

/**
 * Exclusive ownership of named work (a run being driven) among the processes sharing a data dir.
 * A holder that dies loses its leases; the embedded store uses lock files with the owner's pid
 * and start time, the cluster store will use Postgres with fencing tokens.
 */
export interface Leases {
  /** The lease, or null while another live process holds it. */
  tryAcquire(tenant: TenantId, name: string): Lease | null
}
