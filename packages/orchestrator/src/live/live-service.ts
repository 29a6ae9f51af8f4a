import type { EventLog, EventType, FeedRequest, FeedStart, StoredEvent, StreamId } from '@shiioo/core'
import { AUDIT_STREAM, ShiiooError, isEventType, parseRunId, streamKind } from '@shiioo/core'
import type { Door } from '../audit/door.js'
import type { AgentTextChannel, AgentTextView } from './agent-text.js'
import type { CallerContext } from '../caller.js'
import type { EventView } from '../views/event.js'
import { toEventView } from '../views/event.js'

/**
 * What a live subscription follows, always within the caller's tenant: one run, every run, the
 * steps of its runs that begin waiting for an approval (`step.waiting` events), or the audit chain.
 */
export type LiveScope = { kind: 'run'; runId: string } | { kind: 'runs' } | { kind: 'approvals' } | { kind: 'audit' }

export interface LiveRequest {
  scope: LiveScope
  /** Only events of these types (positions still advance past the others). */
  types?: readonly string[]
  /**
   * Where to start: after a position a previous subscription delivered (no gap, no duplicate),
   * at the oldest event the feed holds (`'start'`), or with what is appended from the call on
   * (`'now'`, the default).
   */
  after?: string
  /** Most events per batch (default: the feed's). */
  limit?: number
}

/** One event as a subscriber receives it: its feed position (to resume after), its run, the event. */
export interface LiveEventView {
  /** Opaque and ordered: pass it back as `after` to resume right after this event. */
  position: string
  /** The run the event belongs to; null for an audit entry. */
  runId: string | null
  event: EventView
}

/** Events in feed order; each batch holds at least one. */
export type LiveBatch = readonly LiveEventView[]

/**
 * Live events of the caller's tenant as they become durable, whichever process appended them:
 * what GraphQL subscriptions, SSE and MCP notifications are made from.
 */
export interface LiveService {
  /**
   * Admits the caller (`run.read` for one run, `run.list` for the tenant's runs, `approval.list`
   * for its approvals, `audit.list` for the audit chain) and resolves with the batches, ending when `signal` aborts. A run that is not
   * the caller tenant's is NOT_FOUND, as one that does not exist; bad filters are INVALID_INPUT.
   * A malformed `after` (INVALID_INPUT) or one the feed no longer holds (GONE) is thrown by the
   * iterator's first `next()`, as the feed does.
   */
  subscribe(caller: CallerContext, request: LiveRequest, signal: AbortSignal): Promise<AsyncIterable<LiveBatch>>
  /**
   * Agents' text as the model produces it, for one run (`run.read`) or all the caller tenant's
   * runs (`run.list`), from now on, until `signal` aborts. Not durable and not resumable: only what
   * the runs driven by this process say while the subscription lasts (the recorded turns, in the
   * run's events, are the durable copy). A run of another tenant is NOT_FOUND.
   */
  agentText(
    caller: CallerContext,
    request: { runId?: string },
    signal: AbortSignal,
  ): Promise<AsyncIterable<readonly AgentTextView[]>>
}

export interface LiveServiceDeps {
  log: EventLog
  door: Door
  text: AgentTextChannel
}

function invalid(field: string, message: string): ShiiooError {
  return new ShiiooError('INVALID_INPUT', message, { details: { field } })
}

function typesOf(types: readonly string[] | undefined): EventType[] | undefined {
  if (types === undefined) return undefined
  if (!Array.isArray(types)) throw invalid('types', 'types must be a list of event types')
  return types.map((t, i) => {
    if (typeof t !== 'string' || !isEventType(t)) throw invalid(`types[${i}]`, `types[${i}] is not an event type`)
    return t
  })
}

function isApprovalWait(event: StoredEvent): boolean {
  return event.type === 'step.waiting' && event.data.for === 'approval'
}

export function createLiveService(deps: LiveServiceDeps): LiveService {
  const { log, door, text } = deps
  /** Admits reading one run, answering another tenant's as one that does not exist. */
  const admitRun = async (caller: CallerContext, id: string) => {
    const runId = parseRunId(id)
    door.admit(caller, 'run.read', { kind: 'run', id: runId })
    if ((await log.version({ tenant: caller.tenant, stream: runId })) === 0) {
      throw new ShiiooError('NOT_FOUND', `no run ${runId} in tenant ${caller.tenant}`)
    }
    return runId
  }
  return {
    async agentText(caller, request, signal) {
      let runId: string | undefined
      if (request.runId === undefined) door.admit(caller, 'run.list', { kind: 'tenant' })
      else runId = await admitRun(caller, request.runId)
      return text.subscribe(caller.tenant, runId, signal)
    },
    async subscribe(caller, request, signal) {
      const { scope } = request
      const { tenant } = caller
      let filter: Pick<FeedRequest, 'streams' | 'kinds'>
      switch (scope.kind) {
        case 'run':
          filter = { streams: [await admitRun(caller, scope.runId)] }
          break
        case 'runs':
          door.admit(caller, 'run.list', { kind: 'tenant' })
          filter = { kinds: ['run'] }
          break
        case 'approvals':
          door.admit(caller, 'approval.list', { kind: 'tenant' })
          filter = { kinds: ['run'] }
          break
        case 'audit':
          door.admit(caller, 'audit.list', { kind: 'tenant' })
          filter = { streams: [AUDIT_STREAM as StreamId] }
          break
        default:
          throw invalid('scope', 'scope must be a run, the runs or the audit chain')
      }
      const approvals = scope.kind === 'approvals'
      const types = approvals ? (['step.waiting'] as EventType[]) : typesOf(request.types)
      const after = (request.after ?? 'now') as FeedStart
      if (typeof after !== 'string') throw invalid('after', 'after must be a feed position, "start" or "now"')
      const batches = log.feed.subscribe(
        {
          tenant,
          ...filter,
          after,
          ...(types === undefined ? {} : { types }),
          ...(request.limit === undefined ? {} : { limit: request.limit }),
        },
        signal,
      )
      return (async function* () {
        for await (const batch of batches) {
          const wanted = approvals ? batch.filter(({ event }) => isApprovalWait(event)) : batch
          if (wanted.length === 0) continue
          yield wanted.map(({ position, event }): LiveEventView => ({
            position,
            runId: streamKind(event.stream) === 'run' ? event.stream : null,
            event: toEventView(event),
          }))
        }
      })()
    },
  }
}
