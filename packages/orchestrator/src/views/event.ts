import type { ActorKind, EventData, EventType, StoredEvent } from '@shiioo/core'

/**
 * One event of a stream as API clients receive it: the stored envelope (`{ id, stream, seq, type,
 * v, at, tenant, actor, data }`, upcast to the current version of its type), the documented,
 * versioned event format. `type` discriminates `data`.
 */
export type EventView<T extends EventType = EventType> = {
  [K in T]: {
    id: string
    stream: string
    seq: number
    type: K
    v: number
    /** ISO-8601 UTC instant. */
    at: string
    tenant: string
    actor: { kind: ActorKind; id: string }
    data: EventData<K>
  }
}[T]

/** A fresh envelope with the stored key order, so `JSON.stringify` of a view prints the event as stored. */
export function toEventView(e: StoredEvent): EventView {
  return {
    id: e.id,
    stream: e.stream,
    seq: e.seq,
    type: e.type,
    v: e.v,
    at: e.at,
    tenant: e.tenant,
    actor: { kind: e.actor.kind, id: e.actor.id },
    data: e.data,
  } as EventView
}
