import type { StoredEvent } from '../events/envelope.js'
import type { PrincipalKind, Role } from './events.js'

export interface PrincipalState {
  id: string
  kind: PrincipalKind
  name: string
  roles: readonly Role[]
  disabled: boolean
  createdAt: string
}

export interface TokenState {
  id: string
  principalId: string
  name: string
  hash: string
  prefix: string
  expiresAt: string | null
  createdAt: string
  revokedAt: string | null
}

/** One tenant's principals and tokens: the fold of its `identity` stream. */
export interface IdentityState {
  /** The seq of the last event folded in (the stream's version). */
  version: number
  principals: Map<string, PrincipalState>
  tokens: Map<string, TokenState>
  /** Principal ids by name. */
  names: Map<string, string>
}

export function emptyIdentityState(): IdentityState {
  return { version: 0, principals: new Map(), tokens: new Map(), names: new Map() }
}

/**
 * Folds one event of a tenant's `identity` stream into its state (in place). Events of other
 * streams, and events already folded in (seq at or below `version`), are ignored, so a reader
 * that sees an event twice (its own append, then the feed) folds it once.
 */
export function applyIdentityEvent(state: IdentityState, e: StoredEvent): void {
  if (e.seq <= state.version) return
  state.version = e.seq
  switch (e.type) {
    case 'principal.created': {
      const d = e.data
      state.principals.set(d.principalId, {
        id: d.principalId,
        kind: d.kind,
        name: d.name,
        roles: d.roles,
        disabled: false,
        createdAt: e.at,
      })
      state.names.set(d.name, d.principalId)
      return
    }
    case 'roles.assigned': {
      const p = state.principals.get(e.data.principalId)
      if (p) p.roles = e.data.roles
      return
    }
    case 'principal.disabled': {
      const p = state.principals.get(e.data.principalId)
      if (p) p.disabled = true
      return
    }
    case 'token.created': {
      const d = e.data
      state.tokens.set(d.tokenId, {
        id: d.tokenId,
        principalId: d.principalId,
        name: d.name,
        hash: d.hash,
        prefix: d.prefix,
        expiresAt: d.expiresAt,
        createdAt: e.at,
        revokedAt: null,
      })
      return
    }
    case 'token.revoked': {
      const t = state.tokens.get(e.data.tokenId)
      if (t && t.revokedAt === null) t.revokedAt = e.at
      return
    }
    default:
      return
  }
}
