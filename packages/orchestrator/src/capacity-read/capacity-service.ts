import type { CapacityPool, SourceStatus } from '@shiioo/capacity'
import type { IndexStore } from '@shiioo/core'
import type { Door } from '../audit/door.js'
import type { CallerContext } from '../caller.js'
import type { CapacityConfig, SourceConfig } from '../capacity.js'
import type { IndexFeed } from '../index-feed.js'
import type { CostRowView } from '../run/types.js'
import type { CapacityPoolView, CapacitySourceView } from '../views/capacity.js'

export interface CapacityUsageRequest {
  /** ISO instants: calls at or after `from`, before `before`. */
  from?: string
  before?: string
}

/** The LLM capacity this process calls through: its sources as configured and as the pool sees them now. */
export interface CapacityService {
  /**
   * The sources that serve the caller's tenant, with this process's view of each (state, calls in
   * flight), and the calls waiting for capacity. No sources configured: an empty pool.
   */
  pool(caller: CallerContext): Promise<CapacityPoolView>
  /** The caller's tenant's model calls, tokens and cost by source, from the cost ledger. */
  usage(caller: CallerContext, request?: CapacityUsageRequest): Promise<CostRowView[]>
}

export interface CapacityServiceDeps {
  door: Door
  index: IndexStore
  feed: IndexFeed
  config: CapacityConfig | undefined
  /** The pool, when this process runs agent steps on it (null: another agent runner was given). */
  pool: CapacityPool | null
}

function iso(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString()
}

function toSourceView(s: SourceConfig, status: SourceStatus | undefined): CapacitySourceView {
  const maxConcurrent = s.limits?.maxConcurrent ?? null
  const inFlight = status?.inFlight ?? 0
  return {
    id: s.id,
    provider: s.provider,
    models: [...s.models],
    priority: s.priority ?? 0,
    enabled: s.enabled ?? true,
    roles: s.roles ? [...s.roles] : null,
    limits: {
      requestsPerMinute: s.limits?.requestsPerMinute ?? null,
      tokensPerMinute: s.limits?.tokensPerMinute ?? null,
      tokensPerDay: s.limits?.tokensPerDay ?? null,
      maxConcurrent,
    },
    prices: s.prices ? { inputPer1M: s.prices.inputPer1M, outputPer1M: s.prices.outputPer1M } : null,
    state: status?.state ?? 'ok',
    stateUntil: iso(status?.until),
    reason: status?.reason ?? null,
    inFlight,
    saturation: maxConcurrent === null ? null : inFlight / maxConcurrent,
  }
}

export function createCapacityService(deps: CapacityServiceDeps): CapacityService {
  const { door, index, feed, config, pool } = deps
  return {
    async pool(caller) {
      door.admit(caller, 'capacity.read', { kind: 'tenant' })
      const statuses = new Map((pool?.status() ?? []).map((s) => [s.id, s]))
      // a source restricted to other tenants is none of this caller's business (nor is its existence)
      const sources = (config?.sources ?? []).filter((s) => !s.tenants || s.tenants.includes(caller.tenant))
      return {
        queued: pool?.queued ?? 0,
        inFlight: pool?.inFlight ?? 0,
        sources: sources.map((s) => toSourceView(s, statuses.get(s.id))),
      }
    },
    async usage(caller, request = {}) {
      door.admit(caller, 'cost.read', { kind: 'tenant' })
      await feed.current()
      return index.costs({
        tenant: caller.tenant,
        by: 'source',
        ...(request.from === undefined ? {} : { from: request.from }),
        ...(request.before === undefined ? {} : { before: request.before }),
      })
    },
  }
}
