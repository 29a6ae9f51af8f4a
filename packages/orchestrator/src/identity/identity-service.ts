import type { Clock, IdentityState, Json, NewEvent, PrincipalKind, PrincipalState, Role, TenantId } from '@shiioo/core'
import {
  PRINCIPAL_ID,
  PRINCIPAL_KINDS,
  PRINCIPAL_NAME,
  ROLES,
  ShiiooError,
  TOKEN_ID,
  createIdFactory,
  createUlidFactory,
  newEvent,
} from '@shiioo/core'
import type { Door } from '../audit/door.js'
import type { CallerContext } from '../caller.js'
import type { BootstrapView, CreatedTokenView, PrincipalView, TokenView, WhoAmIView } from '../views/identity.js'
import { toPrincipalView, toTokenView, tokenStatus } from '../views/identity.js'
import type { IdentityDirectory } from './directory.js'
import { generateToken, hashToken, isAcceptedToken, MIN_CHOSEN_TOKEN_CHARS, tokenPrefix } from './token.js'

export interface CreatePrincipalCommand {
  kind: PrincipalKind
  /** Unique in the tenant: lowercase letters, digits, `.`, `_`, `-`, starting with a letter. */
  name: string
  roles: readonly Role[]
}

export interface CreateTokenCommand {
  /** The principal's id (`prn_...`) or name. */
  principal: string
  /** What the token is for (`ci`, `laptop`), 1-100 characters. */
  name: string
  /** ISO-8601 instant after which it no longer works; absent: it does not expire. */
  expiresAt?: string
}

export interface TokenListRequest {
  /** Only this principal's tokens (its id or name). */
  principal?: string
}

export interface BootstrapCommand {
  /** A token to make sure the admin principal has (`SHIIOO_ADMIN_TOKEN`), at least 32 characters. */
  token?: string
}

/**
 * Principals and API tokens of the caller's tenant, and the one way an edge turns a bearer token
 * into a caller. Ids of another tenant are NOT_FOUND, like ids that do not exist. Changes are
 * audited with ids and prefixes, never a token or its hash.
 */
export interface IdentityService {
  /**
   * The caller a bearer token stands for. Unknown, malformed, revoked or expired tokens, and
   * tokens of a disabled principal, are UNAUTHENTICATED (the message says what to do; it never
   * repeats the token). A map lookup once loaded: cheap enough for every request.
   */
  authenticate(token: string): Promise<CallerContext>
  /** The caller itself: its tenant, actor, roles and principal (every role may ask). */
  whoami(caller: CallerContext): Promise<WhoAmIView>
  createPrincipal(caller: CallerContext, command: CreatePrincipalCommand): Promise<PrincipalView>
  listPrincipals(caller: CallerContext): Promise<PrincipalView[]>
  /** One principal, by id or name. */
  getPrincipal(caller: CallerContext, principal: string): Promise<PrincipalView>
  /** Replaces the principal's roles (by id or name). */
  setRoles(caller: CallerContext, principal: string, roles: readonly Role[]): Promise<PrincipalView>
  /** Disables the principal for good (by id or name): its tokens stop working at once. */
  disablePrincipal(caller: CallerContext, principal: string, reason?: string): Promise<PrincipalView>
  /** Makes a token for a principal: its text is in the answer, and nowhere else, ever. */
  createToken(caller: CallerContext, command: CreateTokenCommand): Promise<CreatedTokenView>
  /** The tenant's tokens (or one principal's), oldest first. */
  listTokens(caller: CallerContext, request?: TokenListRequest): Promise<TokenView[]>
  /** Revokes a token by its id: the next `authenticate` with it refuses. */
  revokeToken(caller: CallerContext, tokenId: string): Promise<TokenView>
  /**
   * A server's first-start step, idempotent: when the caller's tenant has no active admin, makes
   * principal `admin` with a generated token (returned, once) or the given one; a given token not
   * yet known is added to the admin principal, so setting `SHIIOO_ADMIN_TOKEN` always works.
   */
  bootstrap(caller: CallerContext, command?: BootstrapCommand): Promise<BootstrapView>
}

export interface IdentityServiceDeps {
  door: Door
  directory: IdentityDirectory
  clock: Clock
}

const ADMIN_NAME = 'admin'
/** The least time between two audit entries for refusals of one token. */
const REFUSAL_AUDIT_MS = 60_000
const MAX_REASON = 500

function bad(field: string, message: string): ShiiooError {
  return new ShiiooError('INVALID_INPUT', message, { details: { field } })
}

function checkRoles(roles: unknown, field = 'roles'): Role[] {
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string' && (ROLES as readonly string[]).includes(r))) {
    throw bad(field, `${field} must be a list of roles from ${ROLES.join(', ')}`)
  }
  return [...new Set(roles as Role[])]
}

/** The principal `ref` (an id or a name) names in the tenant, or NOT_FOUND (another tenant's too). */
function principalOf(state: IdentityState, ref: string): PrincipalState {
  const id = PRINCIPAL_ID.test(ref) ? ref : state.names.get(ref)
  const p = id === undefined ? undefined : state.principals.get(id)
  if (!p) throw new ShiiooError('NOT_FOUND', `no principal ${ref} in this tenant (see \`shiioo principal list\`)`)
  return p
}

function checkRef(ref: unknown, field: string): string {
  if (typeof ref !== 'string' || !(PRINCIPAL_ID.test(ref) || PRINCIPAL_NAME.test(ref))) {
    throw bad(field, `${field} must be a principal id (prn_ + ULID) or name`)
  }
  return ref
}

const unauthenticated = (message: string) => new ShiiooError('UNAUTHENTICATED', message)
const NEW_TOKEN = 'ask an admin for a new one (`shiioo token create <principal>`)'

export function createIdentityService(deps: IdentityServiceDeps): IdentityService {
  const { door, directory, clock } = deps
  const ids = createIdFactory(() => clock.now())
  const principalId = createUlidFactory(() => clock.now(), 'prn_')
  const tokenId = createUlidFactory(() => clock.now(), 'tok_')
  const iso = () => new Date(clock.now()).toISOString()
  const meta = (caller: CallerContext) => ({ id: ids.eventId(), at: iso(), actor: caller.actor })

  const view = (tenant: TenantId, p: PrincipalState) => toPrincipalView(tenant, p)
  /**
   * A known token refused (revoked, expired, its principal disabled) is a denied call of its
   * principal, in its tenant's audit chain: at most one entry per token a minute, counting the
   * refusals in between, so a client retrying in a loop cannot flood the chain.
   */
  const lastRefusal = new Map<string, { at: number; since: number }>()
  const auditRefusedToken = async (
    tenant: TenantId,
    t: { id: string; prefix: string },
    p: PrincipalState | undefined,
    refusal: ShiiooError,
  ) => {
    const now = clock.now()
    const last = lastRefusal.get(t.id)
    if (last && now - last.at < REFUSAL_AUDIT_MS) {
      last.since++
      return
    }
    lastRefusal.set(t.id, { at: now, since: 0 })
    const caller: CallerContext = {
      tenant,
      actor: p ? { kind: p.kind, id: p.id } : { kind: 'system', id: 'unknown-principal' },
      roles: [],
    }
    await door.refused(caller, 'token.use', { kind: 'token', id: t.id }, refusal, {
      prefix: t.prefix,
      ...(last ? { refusedSinceLastEntry: last.since } : {}),
    })
  }
  const tokenEvent = (
    caller: CallerContext,
    owner: string,
    name: string,
    token: string,
    expiresAt: string | null,
  ): { event: NewEvent; id: string } => {
    const id = tokenId()
    const data = {
      tokenId: id,
      principalId: owner,
      name,
      hash: hashToken(token),
      prefix: tokenPrefix(token),
      expiresAt,
    }
    return { event: newEvent('token.created', data, meta(caller)), id }
  }

  return {
    async authenticate(token) {
      if (typeof token !== 'string' || !isAcceptedToken(token)) {
        throw unauthenticated(
          'the bearer token is not a Shiioo API token (one that `shiioo token create` prints starts with shiioo_); send it as `Authorization: Bearer <token>`',
        )
      }
      await directory.open()
      const found = directory.findHash(hashToken(token))
      const t = found?.state.tokens.get(found.tokenId)
      if (!found || !t) {
        throw unauthenticated(
          'the bearer token is not known here (mistyped, or made for another server); use a token `shiioo token create` printed for this server',
        )
      }
      const p = found.state.principals.get(t.principalId)
      let refusal: ShiiooError | null = null
      if (t.revokedAt !== null)
        refusal = unauthenticated(`token ${t.prefix} was revoked at ${t.revokedAt}; ${NEW_TOKEN}`)
      else if (tokenStatus(t, clock.now()) === 'expired') {
        refusal = unauthenticated(`token ${t.prefix} expired at ${t.expiresAt}; ${NEW_TOKEN}`)
      } else if (!p || p.disabled) {
        refusal = unauthenticated(
          `token ${t.prefix} belongs to a disabled principal; ask an admin which principal to use now`,
        )
      }
      if (refusal !== null) {
        await auditRefusedToken(found.tenant, t, p, refusal)
        throw refusal
      }
      return { tenant: found.tenant, actor: { kind: p!.kind, id: p!.id }, roles: [...p!.roles] }
    },

    async whoami(caller) {
      door.admit(caller, 'identity.whoami', { kind: 'principal', id: caller.actor.id })
      await directory.open()
      const { id } = caller.actor
      const p = PRINCIPAL_ID.test(id) ? directory.state(caller.tenant).principals.get(id) : undefined
      return {
        tenant: caller.tenant,
        actor: { kind: caller.actor.kind, id },
        roles: [...caller.roles],
        principal: p === undefined ? null : view(caller.tenant, p),
      }
    },

    async createPrincipal(caller, command) {
      const { kind, name } = command
      const roles = checkRoles(command.roles)
      if (!(PRINCIPAL_KINDS as readonly string[]).includes(kind)) throw bad('kind', 'kind must be user or agent')
      if (typeof name !== 'string' || !PRINCIPAL_NAME.test(name)) {
        throw bad('name', 'name must be 1-64 lowercase letters, digits, ., _ or -, starting with a letter')
      }
      const id = await door.change(
        caller,
        'principal.create',
        { kind: 'tenant' },
        () =>
          directory.change(caller.tenant, (state) => {
            if (state.names.has(name)) {
              throw new ShiiooError('CONFLICT', `principal ${name} already exists in this tenant; pick another name`)
            }
            const id = principalId()
            return {
              events: [newEvent('principal.created', { principalId: id, kind, name, roles }, meta(caller))],
              result: id,
            }
          }),
        { details: { name, kind, roles }, result: (principalId) => ({ principalId }) },
      )
      return view(caller.tenant, directory.state(caller.tenant).principals.get(id)!)
    },

    async listPrincipals(caller) {
      door.admit(caller, 'principal.list', { kind: 'tenant' })
      await directory.open()
      const state = directory.state(caller.tenant)
      return [...state.principals.values()].map((p) => view(caller.tenant, p))
    },

    async getPrincipal(caller, ref) {
      checkRef(ref, 'principal')
      door.admit(caller, 'principal.read', { kind: 'principal', id: ref })
      await directory.open()
      return view(caller.tenant, principalOf(directory.state(caller.tenant), ref))
    },

    async setRoles(caller, ref, rolesIn) {
      const roles = checkRoles(rolesIn)
      checkRef(ref, 'principal')
      const id = await door.change(
        caller,
        'principal.set-roles',
        { kind: 'principal', id: ref },
        () =>
          directory.change(caller.tenant, (state) => {
            const p = principalOf(state, ref)
            return {
              events: [newEvent('roles.assigned', { principalId: p.id, roles }, meta(caller))],
              result: p.id,
            }
          }),
        { details: { roles }, result: (principalId) => ({ principalId }) },
      )
      return view(caller.tenant, directory.state(caller.tenant).principals.get(id)!)
    },

    async disablePrincipal(caller, ref, reason) {
      checkRef(ref, 'principal')
      if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON)) {
        throw bad('reason', `reason must be text of at most ${MAX_REASON} characters`)
      }
      const id = await door.change(
        caller,
        'principal.disable',
        { kind: 'principal', id: ref },
        () =>
          directory.change(caller.tenant, (state) => {
            const p = principalOf(state, ref)
            if (p.disabled) return { events: [], result: p.id }
            const data = { principalId: p.id, ...(reason === undefined ? {} : { reason }) }
            return { events: [newEvent('principal.disabled', data, meta(caller))], result: p.id }
          }),
        { details: reason === undefined ? {} : { reason }, result: (principalId) => ({ principalId }) },
      )
      return view(caller.tenant, directory.state(caller.tenant).principals.get(id)!)
    },

    async createToken(caller, command) {
      const ref = checkRef(command.principal, 'principal')
      const { name, expiresAt } = command
      if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100) {
        throw bad('name', 'name must be 1-100 characters saying what the token is for (ci, laptop)')
      }
      if (expiresAt !== undefined) {
        const at = Date.parse(expiresAt)
        if (typeof expiresAt !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(expiresAt) || Number.isNaN(at)) {
          throw bad('expiresAt', 'expiresAt must be an ISO-8601 instant such as 2027-01-31T00:00:00Z')
        }
        if (at <= clock.now()) throw bad('expiresAt', `expiresAt ${expiresAt} is not in the future`)
      }
      const token = generateToken()
      const expires = expiresAt === undefined ? null : new Date(Date.parse(expiresAt)).toISOString()
      const made = await door.change(
        caller,
        'token.create',
        { kind: 'principal', id: ref },
        () =>
          directory.change(caller.tenant, (state) => {
            const p = principalOf(state, ref)
            if (p.disabled) throw new ShiiooError('CONFLICT', `principal ${p.name} is disabled: it cannot get tokens`)
            const { event, id } = tokenEvent(caller, p.id, name, token, expires)
            return { events: [event], result: { id, principalId: p.id } }
          }),
        {
          details: { name, expiresAt: expires },
          result: (r) => ({ tokenId: r.id, principalId: r.principalId, prefix: tokenPrefix(token) }),
        },
      )
      const state = directory.state(caller.tenant)
      return { token, view: toTokenView(state.tokens.get(made.id)!, clock.now()) }
    },

    async listTokens(caller, request = {}) {
      door.admit(caller, 'token.list', { kind: 'tenant' })
      const ref = request.principal === undefined ? undefined : checkRef(request.principal, 'principal')
      await directory.open()
      const state = directory.state(caller.tenant)
      const owner = ref === undefined ? undefined : principalOf(state, ref).id
      const now = clock.now()
      return [...state.tokens.values()]
        .filter((t) => owner === undefined || t.principalId === owner)
        .map((t) => toTokenView(t, now))
    },

    async revokeToken(caller, id) {
      if (typeof id !== 'string' || !TOKEN_ID.test(id)) {
        throw bad('tokenId', 'tokenId must be a token id (tok_ + ULID, as `shiioo token list` shows)')
      }
      await door.change(
        caller,
        'token.revoke',
        { kind: 'token', id },
        () =>
          directory.change(caller.tenant, (state) => {
            const t = state.tokens.get(id)
            if (!t) throw new ShiiooError('NOT_FOUND', `no token ${id} in this tenant (see \`shiioo token list\`)`)
            if (t.revokedAt !== null) return { events: [], result: t.prefix }
            return { events: [newEvent('token.revoked', { tokenId: id }, meta(caller))], result: t.prefix }
          }),
        { result: (prefix): Record<string, Json> => ({ prefix }) },
      )
      return toTokenView(directory.state(caller.tenant).tokens.get(id)!, clock.now())
    },

    async bootstrap(caller, command = {}) {
      const given = command.token
      if (given !== undefined && (typeof given !== 'string' || !isAcceptedToken(given))) {
        throw bad(
          'token',
          `the admin token must be ${MIN_CHOSEN_TOKEN_CHARS}-512 printable characters without spaces (e.g. from \`openssl rand -base64 32\`)`,
        )
      }
      const result = await door.change(
        caller,
        'identity.bootstrap',
        { kind: 'tenant' },
        () =>
          directory.change(caller.tenant, (state) => {
            const events: NewEvent[] = []
            const admins = [...state.principals.values()].filter((p) => !p.disabled && p.roles.includes('admin'))
            const admin = admins.find((p) => p.name === ADMIN_NAME) ?? admins[0]
            let adminId = admin?.id
            if (adminId === undefined) {
              if (state.names.has(ADMIN_NAME)) {
                throw new ShiiooError(
                  'CONFLICT',
                  'this tenant has no active admin and principal admin is disabled or not an admin; give a principal the admin role with `shiioo principal roles <name> --role admin`',
                )
              }
              adminId = principalId()
              const data = { principalId: adminId, kind: 'user' as const, name: ADMIN_NAME, roles: ['admin' as const] }
              events.push(newEvent('principal.created', data, meta(caller)))
            }
            let token: string | null = null
            let tokenId: string | null = null
            if (given !== undefined) {
              if (directory.findHash(hashToken(given)) === null) {
                const made = tokenEvent(caller, adminId, 'SHIIOO_ADMIN_TOKEN', given, null)
                events.push(made.event)
                tokenId = made.id
              }
            } else if (admin === undefined) {
              token = generateToken()
              const made = tokenEvent(caller, adminId, 'bootstrap', token, null)
              events.push(made.event)
              tokenId = made.id
            }
            return {
              events,
              result: { adminId, createdPrincipal: events.some((e) => e.type === 'principal.created'), token, tokenId },
            }
          }),
        {
          changed: (r) => r.createdPrincipal || r.tokenId !== null,
          result: (r) => ({
            principalId: r.adminId,
            createdPrincipal: r.createdPrincipal,
            tokenId: r.tokenId,
            ...(r.tokenId === null ? {} : { prefix: tokenPrefix(r.token ?? given!) }),
          }),
        },
      )
      const state = directory.state(caller.tenant)
      return {
        principal: view(caller.tenant, state.principals.get(result.adminId)!),
        createdPrincipal: result.createdPrincipal,
        token: result.token,
        addedGivenToken: given !== undefined && result.tokenId !== null,
      }
    },
  }
}
