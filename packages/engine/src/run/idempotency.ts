import { createHash } from 'node:crypto'
import type { Clock, EventLog, IdFactory, Json, RunId, StreamId, TenantId } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import { canonicalJson } from '../hash.js'
import { eventFactory } from './signals.js'

export interface ClaimRequest {
  tenant: TenantId
  key: string
  /** The run to create if the key is new. */
  runId: RunId
  workflowHash: string
  input: Record<string, Json>
}

/** The control stream that holds one idempotency key's claim. */
export function idempotencyStream(key: string): StreamId {
  return `idem.${createHash('sha256').update(key).digest('hex').slice(0, 62)}` as StreamId
}

/**
 * Claims an idempotency key for a run: the first claim wins (expected version 0 on the key's own
 * control stream); a later start with the same key gets the same run if it asks for the same
 * workflow and input, and CONFLICT if it asks for something else.
 */
export async function claimIdempotencyKey(
  log: EventLog,
  ids: IdFactory,
  clock: Clock,
  request: ClaimRequest,
): Promise<{ runId: RunId; existing: boolean }> {
  if (request.key.length === 0 || request.key.length > 200) {
    throw new ShiiooError('INVALID_INPUT', 'an idempotency key is 1 to 200 characters')
  }
  const stream = idempotencyStream(request.key)
  const requestHash = createHash('sha256')
    .update(canonicalJson({ workflow: request.workflowHash, input: request.input }))
    .digest('hex')
  const make = eventFactory(ids, clock)
  for (let tries = 0; tries < 3; tries++) {
    const [claim] = await log.read({ tenant: request.tenant, stream, toSeq: 1 })
    if (claim?.type === 'idempotency.claimed') {
      if (claim.data.key !== request.key) throw new ShiiooError('INTERNAL', 'idempotency key hash collision')
      if (claim.data.requestHash !== requestHash) {
        throw new ShiiooError(
          'CONFLICT',
          `idempotency key "${request.key}" was used for run ${claim.data.runId} with a different workflow or input; use a new key`,
          { details: { runId: claim.data.runId } },
        )
      }
      return { runId: claim.data.runId as RunId, existing: true }
    }
    try {
      await log.append({
        tenant: request.tenant,
        stream,
        expectedVersion: 0,
        events: [make('idempotency.claimed', { key: request.key, runId: request.runId, requestHash })],
      })
      return { runId: request.runId, existing: false }
    } catch (error) {
      if ((error as ShiiooError).code !== 'CONFLICT') throw error
    }
  }
  throw new ShiiooError('UNAVAILABLE', `could not claim idempotency key "${request.key}"; try again`)
}
