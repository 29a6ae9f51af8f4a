import { z } from 'zod'
import { ShiiooError } from '../errors.js'
import type { EventId, StreamId, TenantId } from '../ids.js'
import { isEventId, isStreamId, isTenantId } from '../ids.js'
import type { EventData, EventType } from './catalog.js'
import { CORE_EVENT_MODULES, eventSchemas } from './catalog.js'
import type { EventCatalog } from './registry.js'
import { createEventCatalog } from './registry.js'
import { fastChecks } from './fast-checks.js'
import type { Actor, ActorKind } from './actor.js'
import { ACTOR_KINDS } from './actor.js'

export type { EventCatalog } from './registry.js'
export type { Actor, ActorKind } from './actor.js'
export { ACTOR_KINDS } from './actor.js'

const ACTOR_KIND_SET: ReadonlySet<string> = new Set(ACTOR_KINDS)

/** The actor, rebuilt with only its two fields, or why it is not one (checked by hand: hot path). */
function checkActor(value: unknown): Actor | string {
  if (typeof value !== 'object' || value === null) return 'not an object'
  const a = value as Record<string, unknown>
  if (typeof a.kind !== 'string' || !ACTOR_KIND_SET.has(a.kind)) return `kind must be one of ${ACTOR_KINDS.join(', ')}`
  if (typeof a.id !== 'string' || a.id.length === 0 || a.id.length > 200)
    return 'id must be a string of 1-200 characters'
  let keys = 0
  for (const _ in a) keys++
  if (keys !== 2) return 'only kind and id are allowed'
  return { kind: a.kind as ActorKind, id: a.id }
}

/** An event as stored: `{ id, stream, seq, type, v, at, tenant, actor, data }`. */
export type StoredEvent<T extends EventType = EventType> = {
  [K in T]: {
    id: EventId
    stream: StreamId
    seq: number
    type: K
    v: number
    at: string
    tenant: TenantId
    actor: Actor
    data: EventData<K>
  }
}[T]

/** An event proposed for append; the log assigns `stream`, `seq` and `tenant`. */
export type NewEvent<T extends EventType = EventType> = {
  [K in T]: { id: EventId; type: K; v: number; at: string; actor: Actor; data: EventData<K> }
}[T]

export function newEvent<T extends EventType>(
  type: T,
  data: EventData<T>,
  meta: { id: EventId; at: string | Date; actor: Actor },
): NewEvent<T> {
  const at = typeof meta.at === 'string' ? meta.at : meta.at.toISOString()
  return { id: meta.id, type, v: eventSchemas[type].v, at, actor: meta.actor, data }
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/

function bad(message: string, details: Record<string, unknown> = {}): ShiiooError {
  return new ShiiooError('INVALID_INPUT', message, { details })
}

/** Validates a proposed event's envelope and data against the catalog. Throws INVALID_INPUT. */
export function validateNewEvent(event: unknown, index = 0, catalog: EventCatalog = defaultCatalog): NewEvent {
  if (typeof event !== 'object' || event === null) throw bad(`events[${index}] is not an object`)
  const e = event as Record<string, unknown>
  const where = `events[${index}]`
  if (typeof e.id !== 'string' || !isEventId(e.id))
    throw bad(`${where}.id is not an event id (evt_ + ULID)`, { field: `${where}.id` })
  const known = typeof e.type === 'string' && Object.prototype.hasOwnProperty.call(catalog.schemas, e.type)
  if (!known) throw bad(`${where}.type "${String(e.type)}" is not a known event type`, { field: `${where}.type` })
  const type = e.type as EventType
  const def = catalog.schemas[type]!
  if (e.v !== def.v) throw bad(`${where}.v must be ${def.v} for ${type} (got ${String(e.v)})`, { field: `${where}.v` })
  if (typeof e.at !== 'string' || !ISO_INSTANT.test(e.at))
    throw bad(`${where}.at is not an ISO-8601 UTC instant`, { field: `${where}.at` })
  const actor = checkActor(e.actor)
  if (typeof actor === 'string') throw bad(`${where}.actor is invalid: ${actor}`, { field: `${where}.actor` })
  // the hot types are checked by hand first: no parsed copy (see fast-checks.ts)
  if (def === eventSchemas[type] && fastChecks[type]?.(e.data))
    return { id: e.id, type, v: def.v, at: e.at, actor, data: e.data } as NewEvent
  const data = def.data.safeParse(e.data)
  if (!data.success) {
    const issue = data.error.issues[0]
    const path = issue ? issue.path.join('.') : ''
    throw bad(`${where}.data${path ? '.' + path : ''}: ${issue?.message ?? 'invalid'} (${type})`, {
      field: `${where}.data${path ? '.' + path : ''}`,
    })
  }
  return { id: e.id, type, v: def.v, at: e.at, actor, data: data.data } as NewEvent
}

/**
 * Serializes an event as stored, with a stable key order. `dataJson` may be passed when the
 * caller already has it. Ids, stream, type, time and tenant were validated against patterns
 * that need no JSON escaping, so they are spliced in directly (this is the append hot path).
 */
export function serializeEvent(e: StoredEvent, dataJson: string = JSON.stringify(e.data)): string {
  return (
    `{"id":"${e.id}","stream":"${e.stream}","seq":${e.seq},"type":"${e.type}","v":${e.v},"at":"${e.at}",` +
    `"tenant":"${e.tenant}","actor":${JSON.stringify(e.actor)},"data":${dataJson}}`
  )
}

/** Core's event modules (runs, idempotency, workflows, audit): what a log knows unless given more. */
export const defaultCatalog: EventCatalog = createEventCatalog(CORE_EVENT_MODULES)

/**
 * Parses one stored line: checks the envelope, upcasts old versions, validates the data.
 * Throws DATA_CORRUPTED with the reason when the record is not a valid event.
 */
export function decodeStoredEvent(line: string, catalog: EventCatalog = defaultCatalog): StoredEvent {
  let raw: unknown
  try {
    raw = JSON.parse(line)
  } catch {
    throw new ShiiooError('DATA_CORRUPTED', 'record is not valid JSON')
  }
  return decodeStoredRecord(raw, catalog)
}

/**
 * Like decodeStoredEvent, for a record already parsed from JSON. A reader that knows which stream
 * the record must belong to passes it as `expect`, which replaces two pattern checks by equality.
 */
export function decodeStoredRecord(
  raw: unknown,
  catalog: EventCatalog = defaultCatalog,
  expect?: { stream: string; tenant: string },
  /** Skip the data schema check of current-version events (their bytes are checksummed). */
  trustData = false,
): StoredEvent {
  if (typeof raw !== 'object' || raw === null) throw new ShiiooError('DATA_CORRUPTED', 'record is not an object')
  const e = raw as Record<string, unknown>
  const fail = (what: string) => new ShiiooError('DATA_CORRUPTED', `record has ${what}`)
  if (typeof e.id !== 'string' || !isEventId(e.id)) throw fail('a bad id')
  if (expect ? e.stream !== expect.stream : typeof e.stream !== 'string' || !isStreamId(e.stream))
    throw fail('a bad stream')
  if (typeof e.seq !== 'number' || !Number.isInteger(e.seq) || e.seq < 1) throw fail('a bad seq')
  if (expect ? e.tenant !== expect.tenant : typeof e.tenant !== 'string' || !isTenantId(e.tenant))
    throw fail('a bad tenant')
  if (typeof e.at !== 'string' || !ISO_INSTANT.test(e.at)) throw fail('a bad time')
  if (typeof e.type !== 'string' || !Object.prototype.hasOwnProperty.call(catalog.schemas, e.type)) {
    throw fail(`an unknown type "${String(e.type)}"`)
  }
  if (typeof e.v !== 'number' || !Number.isInteger(e.v) || e.v < 1) throw fail('a bad schema version')
  if (typeof checkActor(e.actor) === 'string') throw fail('a bad actor')
  const def = catalog.schemas[e.type]!
  let data = e.data
  let v = e.v
  if (v > def.v) throw fail(`schema version ${v} of ${e.type}, newer than this build knows (${def.v}); upgrade Shiioo`)
  while (v < def.v) {
    const up = catalog.upcasters[`${e.type}@${v}`]
    if (!up) throw fail(`schema version ${v} of ${e.type} with no upcaster`)
    data = up(data)
    v++
  }
  if (
    !(trustData && v === e.v) &&
    !(def === eventSchemas[e.type as EventType] && fastChecks[e.type as EventType]?.(data))
  ) {
    const parsed = def.data.safeParse(data)
    if (!parsed.success) throw fail(`invalid ${e.type} data: ${parsed.error.issues[0]?.message ?? ''}`)
    data = parsed.data
  }
  return {
    id: e.id,
    stream: e.stream,
    seq: e.seq,
    type: e.type,
    v,
    at: e.at,
    tenant: e.tenant,
    actor: e.actor as Actor,
    data,
  } as StoredEvent
}

const envelopeFields = {
  id: z.string().regex(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/),
  stream: z.string().min(1).max(200),
  seq: z.number().int().positive(),
  at: z.string().regex(ISO_INSTANT),
  tenant: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  actor: z.object({ kind: z.enum(ACTOR_KINDS), id: z.string().min(1).max(200) }).strict(),
}

function envelopeOf<T extends EventType>(type: T) {
  const def = eventSchemas[type]
  return z.object({ ...envelopeFields, type: z.literal(type), v: z.literal(def.v), data: def.data }).strict()
}

/**
 * The whole catalog as one zod discriminated union over `type`: the canonical, strict schema of
 * a stored event at the current versions (for tooling and JSON Schema export; the hot read path
 * checks the same rules by hand and then the per-type data schema).
 */
export const storedEventSchema = z.discriminatedUnion('type', [
  envelopeOf('run.started'),
  envelopeOf('step.started'),
  envelopeOf('step.completed'),
  envelopeOf('step.failed'),
  envelopeOf('step.skipped'),
  envelopeOf('step.waiting'),
  envelopeOf('agent.turn'),
  envelopeOf('agent.tool'),
  envelopeOf('agent.queued'),
  envelopeOf('approval.decided'),
  envelopeOf('event.received'),
  envelopeOf('run.paused'),
  envelopeOf('run.resumed'),
  envelopeOf('run.completed'),
  envelopeOf('run.failed'),
  envelopeOf('run.cancelled'),
  envelopeOf('idempotency.claimed'),
  envelopeOf('workflow.registered'),
  envelopeOf('audit.recorded'),
  envelopeOf('principal.created'),
  envelopeOf('roles.assigned'),
  envelopeOf('principal.disabled'),
  envelopeOf('token.created'),
  envelopeOf('token.revoked'),
])

// Adding a type to the catalog without adding it to the union above fails to compile here.
type UnionTypes = z.infer<typeof storedEventSchema>['type']
const _everyTypeInUnion: Record<EventType, UnionTypes> = {
  'run.started': 'run.started',
  'step.started': 'step.started',
  'step.completed': 'step.completed',
  'step.failed': 'step.failed',
  'step.skipped': 'step.skipped',
  'step.waiting': 'step.waiting',
  'agent.turn': 'agent.turn',
  'agent.tool': 'agent.tool',
  'agent.queued': 'agent.queued',
  'approval.decided': 'approval.decided',
  'event.received': 'event.received',
  'run.paused': 'run.paused',
  'run.resumed': 'run.resumed',
  'run.completed': 'run.completed',
  'run.failed': 'run.failed',
  'run.cancelled': 'run.cancelled',
  'idempotency.claimed': 'idempotency.claimed',
  'workflow.registered': 'workflow.registered',
  'audit.recorded': 'audit.recorded',
  'principal.created': 'principal.created',
  'roles.assigned': 'roles.assigned',
  'principal.disabled': 'principal.disabled',
  'token.created': 'token.created',
  'token.revoked': 'token.revoked',
}
void _everyTypeInUnion
