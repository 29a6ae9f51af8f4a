import type { Json, Payload, RunId, StoredEvent, TenantId } from '@shiioo/core'
import { BLOB_KEY, RUN_STATUSES, ShiiooError, parseRunId } from '@shiioo/core'
import { resolvePayload } from '@shiioo/engine'
import type { CostView } from '../views/payload.js'
import { toEventView } from '../views/event.js'
import { toRunAtView, toRunListItemView, toRunView } from '../views/run.js'
import type { RunServiceDeps } from './deps.js'
import { definitionOf } from './deps.js'
import { followRun } from './follow.js'
import type { RunListRequest, RunService } from './types.js'

type RunQueries = Pick<RunService, 'list' | 'costs' | 'get' | 'stateAt' | 'events' | 'payload' | 'follow'>

/** The event data fields that carry payloads (what the engine may move to blobs). */
const PAYLOAD_FIELDS = ['input', 'output', 'payload', 'request', 'response'] as const

/** The payload of the event that references `blob`, if any. */
function blobPayload(e: StoredEvent, blob: string): Payload | undefined {
  const data = e.data as Readonly<Record<string, Payload | undefined>>
  for (const field of PAYLOAD_FIELDS) {
    const p = data[field]
    if (p !== undefined && 'blob' in p && p.blob === blob) return p
  }
  return undefined
}

/** The read side of the run service: listings from the index, runs folded from their logs, as views. */
export function createRunQueries(deps: RunServiceDeps): RunQueries {
  const { engine, log, blobs, index, feed, logger, door } = deps

  const readEvents = async (tenant: TenantId, runId: RunId): Promise<StoredEvent[]> => {
    const events = await log.read({ tenant, stream: runId })
    if (events.length === 0) throw new ShiiooError('NOT_FOUND', `no run ${runId} in tenant ${tenant}`)
    return events
  }

  return {
    async list(caller, request: RunListRequest = {}) {
      door.admit(caller, 'run.list', { kind: 'tenant' })
      if (request.status !== undefined && !RUN_STATUSES.includes(request.status)) {
        throw new ShiiooError('INVALID_INPUT', `status must be one of ${RUN_STATUSES.join(', ')}`, {
          details: { field: 'status' },
        })
      }
      const limit = request.limit ?? 50
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw new ShiiooError('INVALID_INPUT', `limit must be a whole number from 1 to 500, not ${limit}`, {
          details: { field: 'limit' },
        })
      }
      await feed.current()
      const page = await index.listRuns({ ...request, limit, tenant: caller.tenant })
      return { items: page.items.map(toRunListItemView), nextCursor: page.nextCursor }
    },

    async costs(caller, query) {
      door.admit(caller, 'cost.read', { kind: 'tenant' })
      const runId = query.runId === undefined ? undefined : parseRunId(query.runId, 'runId')
      await feed.current()
      return index.costs({
        tenant: caller.tenant,
        by: query.by,
        ...(query.from === undefined ? {} : { from: query.from }),
        ...(query.before === undefined ? {} : { before: query.before }),
        ...(runId === undefined ? {} : { runId }),
      })
    },

    async get(caller, runIdText) {
      const runId = parseRunId(runIdText)
      door.admit(caller, 'run.read', { kind: 'run', id: runId })
      const { tenant } = caller
      const state = await engine.state(tenant, runId)
      const indexed = feed.current()
      const [summary, { definition, problem }, rows] = await Promise.all([
        indexed.then(() => index.getRun({ tenant, runId })),
        definitionOf(engine, tenant, state.workflow.hash),
        indexed.then(() => index.costs({ tenant, by: 'step', runId })),
      ])
      const costs = new Map<string, CostView>()
      for (const { key, ...cost } of rows) costs.set(key.slice(runId.length + 1), cost)
      return toRunView(state, {
        definition,
        problem,
        stepsFrom: 'definition',
        reason: summary?.reason ?? null,
        costs,
      })
    },

    async stateAt(caller, runIdText, seq) {
      const runId = parseRunId(runIdText)
      door.admit(caller, 'run.read', { kind: 'run', id: runId })
      const last = await log.version({ tenant: caller.tenant, stream: runId })
      if (last === 0) throw new ShiiooError('NOT_FOUND', `no run ${runId} in tenant ${caller.tenant}`)
      if (!Number.isInteger(seq) || seq < 1 || seq > last) {
        throw new ShiiooError('INVALID_INPUT', `seq must be a whole number from 1 to ${last} (the run's last event)`, {
          details: { field: 'seq' },
        })
      }
      const state = await engine.state(caller.tenant, runId, seq)
      return toRunAtView(state, await definitionOf(engine, caller.tenant, state.workflow.hash))
    },

    async events(caller, runIdText, options = {}) {
      const runId = parseRunId(runIdText)
      const { after } = options
      if (after !== undefined && (!Number.isSafeInteger(after) || after < 0)) {
        throw new ShiiooError('INVALID_INPUT', `after must be a seq (a whole number from 0), not ${after}`, {
          details: { field: 'after' },
        })
      }
      door.admit(caller, 'run.read', { kind: 'run', id: runId })
      if (after === undefined || after === 0) return (await readEvents(caller.tenant, runId)).map(toEventView)
      const last = await log.version({ tenant: caller.tenant, stream: runId })
      if (last === 0) throw new ShiiooError('NOT_FOUND', `no run ${runId} in tenant ${caller.tenant}`)
      if (after >= last) return []
      return (await log.read({ tenant: caller.tenant, stream: runId, fromSeq: after + 1 })).map(toEventView)
    },

    async payload(caller, runIdText, blob): Promise<Json> {
      const runId = parseRunId(runIdText)
      door.admit(caller, 'run.read', { kind: 'run', id: runId })
      if (!BLOB_KEY.test(blob)) {
        throw new ShiiooError('INVALID_INPUT', 'blob must be 64 lowercase hex characters', {
          details: { field: 'blob' },
        })
      }
      // only through a run that references it: reading the run is what the caller was admitted to
      for (const e of await readEvents(caller.tenant, runId)) {
        const p = blobPayload(e, blob)
        if (p) return resolvePayload(blobs, caller.tenant, p)
      }
      throw new ShiiooError('NOT_FOUND', `run ${runId} references no payload ${blob}`)
    },

    follow(caller, runIdText, listener, options) {
      const runId = parseRunId(runIdText)
      door.admit(caller, 'run.read', { kind: 'run', id: runId })
      return followRun(
        log,
        logger,
        { tenant: caller.tenant, runId },
        (events) => listener(events.map(toEventView)),
        options,
      )
    },
  }
}
