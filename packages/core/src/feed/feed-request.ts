import type { EventType } from '../events/catalog.js'
import { isEventType } from '../events/catalog.js'
import { ShiiooError } from '../errors.js'
import type { StreamId, TenantId } from '../ids.js'
import { parseStreamId, parseTenantId, streamKind } from '../ids.js'
import type { CommitRequest, FeedRequest, StreamKind } from '../ports/feed.js'

const DEFAULT_LIMIT = 512
const MAX_LIMIT = 10_000

/** A subscription's filters, checked once: every feed adapter matches commits and events with it. */
export interface FeedMatcher {
  /** Whether a commit of this stream can hold events the subscriber wants. */
  commit: (tenant: TenantId, stream: StreamId) => boolean
  /** Whether an event of this type is wanted (after `commit` said yes). */
  type: (type: EventType) => boolean
  /** True when every event of a matching commit is wanted (no type filter). */
  allTypes: boolean
  limit: number
}

/**
 * Validates a subscription request (bad input is `INVALID_INPUT` naming the field) and returns
 * its matcher. Shared by the adapters so that a filter means the same thing on every backend.
 */
export function compileFeedRequest(request: FeedRequest | CommitRequest): FeedMatcher {
  if (request === null || typeof request !== 'object') throw invalid('request', 'a feed request must be an object')
  const tenant = request.tenant === undefined ? null : parseTenantId(request.tenant, 'tenant')
  const streams = request.streams === undefined ? null : list(request.streams, 'streams')
  const streamSet = streams === null ? null : new Set(streams.map((s, i) => parseStreamId(s, `streams[${i}]`)))
  const kinds = request.kinds === undefined ? null : list(request.kinds, 'kinds')
  kinds?.forEach((k, i) => {
    if (k !== 'run' && k !== 'control') throw invalid(`kinds[${i}]`, `kinds[${i}] must be "run" or "control"`)
  })
  const kindSet = kinds === null ? null : new Set<StreamKind>(kinds)
  const types = 'types' in request && request.types !== undefined ? list(request.types, 'types') : null
  types?.forEach((t, i) => {
    if (typeof t !== 'string' || !isEventType(t)) throw invalid(`types[${i}]`, `types[${i}] is not an event type`)
  })
  const typeSet = types === null ? null : new Set<string>(types)
  const limit = request.limit ?? DEFAULT_LIMIT
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw invalid('limit', `limit must be a whole number from 1 to ${MAX_LIMIT}`)
  }
  return {
    commit: (t, s) =>
      (tenant === null || t === tenant) &&
      (streamSet === null || streamSet.has(s)) &&
      (kindSet === null || kindSet.has(streamKind(s))),
    type: (t) => typeSet === null || typeSet.has(t),
    allTypes: typeSet === null,
    limit,
  }
}

function list<T>(value: readonly T[], field: string): readonly T[] {
  if (!Array.isArray(value)) throw invalid(field, `${field} must be an array`)
  return value as readonly T[]
}

function invalid(field: string, message: string): ShiiooError {
  return new ShiiooError('INVALID_INPUT', message, { details: { field } })
}

/** The refusal of a position the feed no longer holds (see EventFeed). */
export function positionGone(position: string, reason: 'expired' | 'unknown'): ShiiooError {
  const why =
    reason === 'expired'
      ? 'is older than what the feed keeps (its retention)'
      : 'is not in the feed (lost in a crash, or from another data dir)'
  return new ShiiooError('GONE', `feed position ${position} ${why}; re-sync from the streams and subscribe again`, {
    details: { position, reason },
  })
}

/** A position string that cannot be one of this feed's. */
export function badPosition(position: unknown): ShiiooError {
  const shown = typeof position === 'string' ? position.slice(0, 80) : typeof position
  return new ShiiooError('INVALID_INPUT', `after must be a feed position, "start" or "now" (got ${shown})`, {
    details: { field: 'after' },
  })
}
