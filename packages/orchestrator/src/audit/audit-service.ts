import type { AuditEntry, AuditTrail } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import type { CallerContext } from '../caller.js'
import type { AuditEntryView, AuditPageView, AuditVerifyView } from '../views/audit.js'
import { toAuditEntryView } from '../views/audit.js'
import type { Door } from './door.js'

export interface AuditListRequest {
  /** Only entries of this action (`run.start`). */
  action?: string
  /** Only entries of this actor id (`local:alice`). */
  actor?: string
  /** Only entries at or after this ISO-8601 instant. */
  since?: string
  /** Entries before this seq (the previous page's `nextBefore`). */
  before?: number
  /** At most this many (1-1000, default 100). */
  limit?: number
}

/** The caller's tenant's audit chain: listed, checked and exported (reads: not audited themselves). */
export interface AuditService {
  /** Entries newest first, filtered. */
  list(caller: CallerContext, request?: AuditListRequest): Promise<AuditPageView>
  /** Checks every entry's hash and link and that the log holds every record it acknowledged. */
  verify(caller: CallerContext, options?: { signal?: AbortSignal }): Promise<AuditVerifyView>
  /** Every entry, oldest first, as stored (for JSONL to a SIEM). */
  export(caller: CallerContext, options?: { signal?: AbortSignal }): Promise<AsyncIterable<AuditEntryView>>
}

export interface AuditServiceDeps {
  door: Door
  trail: AuditTrail
}

const ACTION = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/

function bad(field: string, message: string): ShiiooError {
  return new ShiiooError('INVALID_INPUT', message, { details: { field } })
}

/** The request's filters as a predicate, each checked (bad input names the field). */
function filterOf(request: AuditListRequest): (e: AuditEntry) => boolean {
  const { action, actor, since } = request
  if (action !== undefined && !ACTION.test(action)) {
    throw bad('action', `action must be a service action such as run.start, not "${action}"`)
  }
  if (actor !== undefined && (actor.length === 0 || actor.length > 200)) {
    throw bad('actor', 'actor must be an actor id of 1-200 characters, such as local:alice')
  }
  let sinceMs: number | undefined
  if (since !== undefined) {
    sinceMs = Date.parse(since)
    if (!/^\d{4}-\d{2}-\d{2}/.test(since) || Number.isNaN(sinceMs)) {
      throw bad('since', `since must be an ISO-8601 date or instant such as 2026-12-03T09:00:00Z, not "${since}"`)
    }
  }
  return (e) =>
    (action === undefined || e.action === action) &&
    (actor === undefined || e.actor.id === actor) &&
    (sinceMs === undefined || Date.parse(e.at) >= sinceMs)
}

export function createAuditService(deps: AuditServiceDeps): AuditService {
  const { door, trail } = deps
  return {
    async list(caller, request = {}) {
      door.admit(caller, 'audit.list', { kind: 'tenant' })
      const matches = filterOf(request)
      const limit = request.limit ?? 100
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
        throw bad('limit', `limit must be a whole number from 1 to 1000, not ${limit}`)
      }
      const { before } = request
      if (before !== undefined && (!Number.isInteger(before) || before < 1)) {
        throw bad('before', `before must be a seq (a whole number from 1), not ${before}`)
      }
      const entries = await trail.entries(caller.tenant)
      const items: AuditEntryView[] = []
      let nextBefore: number | null = null
      for (let i = Math.min(entries.length, (before ?? Infinity) - 1) - 1; i >= 0; i--) {
        const e = entries[i]!
        if (!matches(e)) continue
        if (items.length === limit) {
          nextBefore = items[items.length - 1]!.seq
          break
        }
        items.push(toAuditEntryView(e))
      }
      return { items, nextBefore }
    },

    async verify(caller, options = {}) {
      door.admit(caller, 'audit.verify', { kind: 'tenant' })
      const v = await trail.verify(caller.tenant, options.signal)
      return { tenant: v.tenant, ok: v.problem === null, entries: v.entries, head: v.head, firstBad: v.problem }
    },

    async export(caller, options = {}) {
      door.admit(caller, 'audit.export', { kind: 'tenant' })
      const entries = await trail.entries(caller.tenant, options.signal)
      return (async function* () {
        for (const e of entries) yield toAuditEntryView(e)
      })()
    },
  }
}
