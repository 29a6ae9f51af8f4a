import { z } from 'zod'
import { defineEventModule } from '../events/registry.js'

/** The control stream of a tenant that holds its principals and API tokens. */
export const IDENTITY_STREAM = 'identity'

/**
 * The built-in roles. A role is a name here; what it grants is @shiioo/policy's table, so custom
 * roles can be added there (and this list widened) without touching the events that name them.
 */
export const ROLES = ['admin', 'operator', 'approver', 'auditor', 'viewer'] as const
export type Role = (typeof ROLES)[number]

/** Who a principal is: a person, or an agent (a service account used by a script or an LLM agent). */
export const PRINCIPAL_KINDS = ['user', 'agent'] as const
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number]

const ULID_BODY = '[0-9A-HJKMNP-TV-Z]{26}'
/** A principal's id: `prn_` + a ULID. */
export const PRINCIPAL_ID = new RegExp(`^prn_${ULID_BODY}$`)
/** An API token's id: `tok_` + a ULID (never the token itself). */
export const TOKEN_ID = new RegExp(`^tok_${ULID_BODY}$`)
/** A principal's name, unique in its tenant: what people type (`alice`, `ci-bot`). */
export const PRINCIPAL_NAME = /^[a-z][a-z0-9._-]{0,63}$/

const principalId = z.string().regex(PRINCIPAL_ID, 'a principal id is prn_ + a ULID')
const tokenId = z.string().regex(TOKEN_ID, 'a token id is tok_ + a ULID')
const roles = z.array(z.enum(ROLES)).max(ROLES.length)

/**
 * On each tenant's `identity` control stream: principals and their API tokens. A token is stored
 * only as the sha256 (hex) of its text, with a short prefix for people to recognise it by.
 */
export const identityEvents = defineEventModule({
  name: 'identity',
  events: {
    'principal.created': {
      v: 1,
      data: z
        .object({
          principalId,
          kind: z.enum(PRINCIPAL_KINDS),
          name: z.string().regex(PRINCIPAL_NAME),
          roles,
        })
        .strict(),
    },
    /** The principal's roles from now on (all of them, not a change to apply). */
    'roles.assigned': { v: 1, data: z.object({ principalId, roles }).strict() },
    /** For good: its tokens stop working, it keeps its id and name (the audit chain names it). */
    'principal.disabled': {
      v: 1,
      data: z.object({ principalId, reason: z.string().max(500).optional() }).strict(),
    },
    'token.created': {
      v: 1,
      data: z
        .object({
          tokenId,
          principalId,
          name: z.string().min(1).max(100),
          /** sha256 of the token's text, 64 lowercase hex characters. */
          hash: z.string().regex(/^[0-9a-f]{64}$/),
          /** The first characters of the token, to tell tokens apart (never enough to use one). */
          prefix: z.string().min(1).max(14),
          /** ISO-8601 instant after which the token no longer authenticates; null: never. */
          expiresAt: z.string().datetime().nullable(),
        })
        .strict(),
    },
    'token.revoked': { v: 1, data: z.object({ tokenId }).strict() },
  },
})
