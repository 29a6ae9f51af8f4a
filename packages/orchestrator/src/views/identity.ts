import type { ActorKind, PrincipalKind, PrincipalState, Role, TokenState } from '@shiioo/core'

/** A principal: a user or an agent (service account) of one tenant. */
export interface PrincipalView {
  id: string
  tenant: string
  kind: PrincipalKind
  name: string
  roles: Role[]
  status: 'active' | 'disabled'
  /** ISO-8601 UTC instant. */
  createdAt: string
}

export const TOKEN_STATUSES = ['active', 'expired', 'revoked'] as const
export type TokenStatus = (typeof TOKEN_STATUSES)[number]

/** An API token as listed: never the token, nor its hash. */
export interface TokenView {
  id: string
  principalId: string
  name: string
  /** The token's first characters, to tell it apart (`shiioo_AbC1234`). */
  prefix: string
  status: TokenStatus
  createdAt: string
  expiresAt: string | null
  revokedAt: string | null
}

/** A token just made: the only time its text is shown. */
export interface CreatedTokenView {
  token: string
  view: TokenView
}

/** Who a caller is: what its token stands for, or the local or system caller it was made as. */
export interface WhoAmIView {
  tenant: string
  actor: { kind: ActorKind; id: string }
  /** The roles the caller acts with. */
  roles: Role[]
  /** The principal the caller acts as; null for a local or system caller (no token, no principal). */
  principal: PrincipalView | null
}

/** What a first start did: the admin principal, and a token when one was just made for it. */
export interface BootstrapView {
  principal: PrincipalView
  /** True when the admin principal was made by this call. */
  createdPrincipal: boolean
  /** A token this call generated (shown once), or null. */
  token: string | null
  /** True when the given token (`SHIIOO_ADMIN_TOKEN`) was added to the admin principal by this call. */
  addedGivenToken: boolean
}

export function toPrincipalView(tenant: string, p: PrincipalState): PrincipalView {
  return {
    id: p.id,
    tenant,
    kind: p.kind,
    name: p.name,
    roles: [...p.roles],
    status: p.disabled ? 'disabled' : 'active',
    createdAt: p.createdAt,
  }
}

export function tokenStatus(t: TokenState, now: number): TokenStatus {
  if (t.revokedAt !== null) return 'revoked'
  if (t.expiresAt !== null && Date.parse(t.expiresAt) <= now) return 'expired'
  return 'active'
}

export function toTokenView(t: TokenState, now: number): TokenView {
  return {
    id: t.id,
    principalId: t.principalId,
    name: t.name,
    prefix: t.prefix,
    status: tokenStatus(t, now),
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
  }
}
