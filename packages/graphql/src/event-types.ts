import { ACTOR_KINDS } from '@shiioo/core'
import type { Actor } from '@shiioo/core'
import type { EventView } from '@shiioo/orchestrator'
import type { Builder } from './builder.js'

/** Events as stored (the documented envelope), `data` as JSON: its shape is the event type's. */
export function eventTypes(builder: Builder) {
  const ActorKind = builder.enumType('ActorKind', { values: ACTOR_KINDS })
  const ActorRef = builder.objectRef<Actor>('Actor').implement({
    fields: (t) => ({ kind: t.expose('kind', { type: ActorKind }), id: t.exposeString('id') }),
  })
  const Event = builder.objectRef<EventView>('Event').implement({
    description:
      'One event of a stream: `{ id, stream, seq, type, v, at, tenant, actor, data }`; `type` says what `data` holds.',
    fields: (t) => ({
      id: t.exposeID('id'),
      stream: t.exposeString('stream'),
      seq: t.exposeInt('seq'),
      type: t.exposeString('type'),
      v: t.exposeInt('v'),
      at: t.exposeString('at'),
      tenant: t.exposeString('tenant'),
      actor: t.expose('actor', { type: ActorRef }),
      data: t.expose('data', { type: 'JSON' }),
    }),
  })
  return { Actor: ActorRef, Event }
}

export type EventTypes = ReturnType<typeof eventTypes>
