import { ShiiooError } from '@shiioo/core'
import type { ShiiooToolPort } from '@shiioo/mcp'
import { SHIIOO_EVENTS_LIMIT } from '@shiioo/mcp'
import type { Orchestrator } from '../orchestrator.js'
import { callerOfTool } from './callers.js'

/** The services Shiioo's own tools call. */
export type ShiiooToolServices = Pick<Orchestrator, 'runs' | 'workflows' | 'approvals'>

/**
 * Shiioo's own tools (`shiiooToolSource` of @shiioo/mcp) over the services: each call is made as
 * the tool's caller (`callerOfTool`), so the service admits it, audits it and scopes it to the
 * caller's tenant exactly as it does a REST or GraphQL call; nothing is checked here twice.
 */
export function shiiooToolPort(services: ShiiooToolServices): ShiiooToolPort {
  const { runs, workflows, approvals } = services
  return {
    getRun: (caller, runId) => runs.get(callerOfTool(caller), runId),

    async runEvents(caller, runId, request = {}) {
      const limit = request.limit ?? SHIIOO_EVENTS_LIMIT.default
      if (!Number.isInteger(limit) || limit < 1 || limit > SHIIOO_EVENTS_LIMIT.max) {
        throw new ShiiooError(
          'INVALID_INPUT',
          `limit must be a whole number from 1 to ${SHIIOO_EVENTS_LIMIT.max}, not ${limit}`,
          { details: { field: 'limit' } },
        )
      }
      // the service answers every event after the seq; a page keeps the first `limit`
      const after = request.afterSeq === undefined ? {} : { after: request.afterSeq }
      const events = await runs.events(callerOfTool(caller), runId, after)
      const page = events.slice(0, limit)
      return { events: page, nextAfterSeq: events.length > limit ? page.at(-1)!.seq : null }
    },

    runState: (caller, runId, seq) => runs.stateAt(callerOfTool(caller), runId, seq),

    searchRuns: (caller, request) => runs.list(callerOfTool(caller), request),

    getBlob: (caller, runId, hash) => runs.payload(callerOfTool(caller), runId, hash),

    listWorkflows: (caller) => workflows.list(callerOfTool(caller)),

    /**
     * Runs take a definition, so the registered name's current one is read first (`workflow.read`,
     * which every role that may start runs has) and started as it is: its hash is the current
     * version's, and registering it again at the start changes nothing. (Should another version be
     * registered between the read and the start, the start makes this one current again; a start
     * by registered name in the run service would close that window.)
     */
    async startRun(caller, request) {
      const as = callerOfTool(caller)
      const { definition } = await workflows.get(as, request.workflow)
      return runs.start(as, {
        source: { definition, origin: request.workflow },
        ...(request.input === undefined ? {} : { input: request.input }),
        ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
      })
    },

    cancelRun: (caller, runId, reason) => runs.cancel(callerOfTool(caller), runId, reason),

    pendingApprovals: (caller, request) => approvals.pending(callerOfTool(caller), request),

    decideApproval: (caller, { runId, ...decision }) => runs.decide(callerOfTool(caller), runId, decision),
  }
}
