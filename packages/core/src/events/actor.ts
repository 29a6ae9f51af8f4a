/** Who acts: the kinds an event's (and an audit entry's) actor may have. */
export const ACTOR_KINDS = ['system', 'user', 'service', 'agent', 'routine'] as const
export type ActorKind = (typeof ACTOR_KINDS)[number]
export interface Actor {
  kind: ActorKind
  id: string
}
