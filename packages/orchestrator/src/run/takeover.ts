import type { EventLog, RunId, RunStatus, TenantId } from '@shiioo/core'
import type { Engine } from '@shiioo/engine'

export type Takeover =
  | { kind: 'elsewhere' }
  /** This process drives it already: nothing to take over. */
  | { kind: 'here' }
  | {
      kind: 'resumed'
      status: RunStatus
      /** The run's last seq before this process took it over. */
      lastSeq: number
    }

/**
 * Drives an unfinished run in this process unless a live process already does. The one place the
 * services ask the engine who drives a run (`resumeAll`, and so the supervisor's takeover scan):
 * how the engine decides that (leases) may change without the services changing.
 */
export async function takeOver(engine: Engine, log: EventLog, tenant: TenantId, runId: RunId): Promise<Takeover> {
  // a run this process drives (a server's own run waiting for an approval) is not taken over again:
  // counted as resumed, every scan of the supervisor recorded a run.resume-all that changed nothing
  if (engine.drives(tenant, runId)) return { kind: 'here' }
  if (await engine.drivenElsewhere(tenant, runId)) return { kind: 'elsewhere' }
  const lastSeq = await log.version({ tenant, stream: runId })
  const state = await engine.resume(tenant, runId)
  // another process may have taken the lease between the look and the try
  if (
    !engine.drives(tenant, runId) &&
    state.status !== 'completed' &&
    state.status !== 'failed' &&
    state.status !== 'cancelled'
  )
    return { kind: 'elsewhere' }
  return { kind: 'resumed', status: state.status, lastSeq }
}
