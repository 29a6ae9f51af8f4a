import type { EventLog, IndexStore, RunId, RunSummary, StepStatus, StoredEvent, TenantId } from '@shiioo/core'
import { ShiiooError, foldRunState } from '@shiioo/core'
import type { Door } from '../audit/door.js'
import type { CallerContext } from '../caller.js'
import type { IndexFeed } from '../index-feed.js'
import type { PendingApprovalPageView, PendingApprovalView } from '../views/approval.js'
import { toPayloadView } from '../views/payload.js'

export interface PendingApprovalsRequest {
  /** Only approvals of runs of this workflow. */
  workflow?: string
  /** 1..500 runs' approvals per page, default 50. */
  limit?: number
  /** From a previous page's `nextCursor`. */
  cursor?: string
}

/** Approval steps across runs: what waits for a decision in the caller's tenant (decide with `runs.decide`). */
export interface ApprovalService {
  /**
   * Approval steps (and foreach items) of running runs that wait for a decision, oldest run first.
   * The page is over the tenant's running runs (`limit` runs per page), so a page may hold fewer
   * approvals than `limit`, or none, and still have a `nextCursor`.
   */
  pending(caller: CallerContext, request?: PendingApprovalsRequest): Promise<PendingApprovalPageView>
}

export interface ApprovalServiceDeps {
  log: EventLog
  index: IndexStore
  feed: IndexFeed
  door: Door
}

/**
 * The summary statuses of a step that may have a unit waiting for a decision: the step itself, or
 * (a foreach stays `running` while its items wait) one of its items.
 */
const MAY_WAIT: ReadonlySet<StepStatus> = new Set(['waiting', 'running'])

function bad(field: string, message: string): ShiiooError {
  return new ShiiooError('INVALID_INPUT', message, { details: { field } })
}

/** The prompt each waiting approval (of a step, or `step#item`) was last asked with. */
function prompts(events: readonly StoredEvent[]): Map<string, string> {
  const asked = new Map<string, string>()
  for (const e of events) {
    if (e.type !== 'step.waiting' || e.data.for !== 'approval' || e.data.prompt === undefined) continue
    asked.set(e.data.item === undefined ? e.data.stepId : `${e.data.stepId}#${e.data.item}`, e.data.prompt)
  }
  return asked
}

/** The approvals one run waits for, from its fold. */
function waitingIn(tenant: TenantId, runId: RunId, events: readonly StoredEvent[]): PendingApprovalView[] {
  const state = foldRunState(events)
  if (state.status !== 'running') return []
  const asked = prompts(events)
  const found: PendingApprovalView[] = []
  for (const [stepId, step] of Object.entries(state.steps)) {
    const units: Array<{ u: typeof step; item: number | null }> = step.items
      ? step.items.map((u, i) => ({ u: { ...u, items: null }, item: i }))
      : [{ u: step, item: null }]
    for (const { u, item } of units) {
      if (u.status !== 'waiting' || u.wait?.for !== 'approval') continue
      found.push({
        runId,
        tenant,
        workflow: { name: state.workflow.name, hash: state.workflow.hash },
        stepId,
        item,
        prompt: asked.get(item === null ? stepId : `${stepId}#${item}`) ?? null,
        input: toPayloadView(u.input),
        waitingSince: u.startedAt,
        deadline: u.wait.until,
      })
    }
  }
  return found
}

/**
 * Lists from the index: a page of the tenant's running runs, and of those only the ones whose
 * summary has a waiting (or running: a foreach) step are read, at most `limit` logs a call (a
 * run's log is the only record of what a unit waits for and the prompt it asked).
 */
export function createApprovalService(deps: ApprovalServiceDeps): ApprovalService {
  const { log, index, feed, door } = deps
  return {
    async pending(caller, request = {}) {
      const limit = request.limit ?? 50
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw bad('limit', `limit must be a whole number from 1 to 500, not ${limit}`)
      }
      door.admit(caller, 'approval.list', { kind: 'tenant' })
      await feed.current()
      const { tenant } = caller
      const page = await index.listRuns({
        tenant,
        status: 'running',
        limit,
        ...(request.workflow === undefined ? {} : { workflow: request.workflow }),
        ...(request.cursor === undefined ? {} : { cursor: request.cursor }),
      })
      const summaries = await index.getRuns({ tenant, runIds: page.items.map((r) => r.runId) })
      const waiting = page.items
        .map((r) => summaries.get(r.runId))
        .filter((s): s is RunSummary => s !== undefined && s.steps.some((step) => MAY_WAIT.has(step.status)))
      const items: PendingApprovalView[] = []
      for (const s of waiting) {
        const events = await log.read({ tenant, stream: s.runId })
        if (events.length > 0) items.push(...waitingIn(tenant, s.runId, events))
      }
      return { items, nextCursor: page.nextCursor }
    },
  }
}
