import type { Actor, Role, TenantId } from '@shiioo/core'
import { ACTOR_KINDS, DEFAULT_TENANT, ROLES, ShiiooError, isTenantId } from '@shiioo/core'
import { decideBuiltin } from '@shiioo/policy'

/**
 * Who calls a service, for which tenant, with which roles. Every service method takes it first and
 * names what it does to the gate (`admit`), so no edge can skip the checks. An edge gets one from
 * `orchestrator.identity.authenticate(token)`; local processes use `localCaller` or `systemCaller`.
 */
export interface CallerContext {
  readonly tenant: TenantId
  readonly actor: Actor
  /** What the caller may do (see @shiioo/policy); none: nothing. */
  readonly roles: readonly Role[]
}

/**
 * The caller of a local command line: acting as the operating-system user, in the default tenant
 * unless told, as an admin (whoever can read and write the data dir has every right already).
 */
export function localCaller(user: string, tenant: TenantId = DEFAULT_TENANT): CallerContext {
  const name = user.trim() || 'unknown'
  return { tenant, actor: { kind: 'user', id: `local:${name}`.slice(0, 200) }, roles: ['admin'] }
}

/** The caller for work a process does on its own behalf, such as resuming runs at start: an admin, like the local user. */
export function systemCaller(component: string, tenant: TenantId = DEFAULT_TENANT): CallerContext {
  return { tenant, actor: { kind: 'system', id: component }, roles: ['admin'] }
}

const KINDS: ReadonlySet<string> = new Set(ACTOR_KINDS)
const KNOWN_ROLES: ReadonlySet<string> = new Set(ROLES)

/** Actions that only read: admitted (or refused, and the refusal audited), never audited when let in. */
export const READ_ACTIONS = [
  'run.list',
  'run.read',
  'run.replay',
  'cost.read',
  'workflow.list',
  'data.verify',
  'audit.list',
  'audit.verify',
  'audit.export',
  // identity: principals and API tokens
  'principal.list',
  'principal.read',
  'token.list',
  /** The caller asking who it is: every role may. */
  'identity.whoami',
  // --- REST server issue (#14): reads the HTTP API needed that no service offered ---
  'workflow.read',
  'approval.list',
  'capacity.read',
  'metrics.read',
  // --- tools and MCP issue (#15) ---
  /** Seeing the tool catalog (each tool still shown only when its own requirement is granted). */
  'tool.list',
  /**
   * Presenting an API token: not gated (authentication comes first), but a token that is known and
   * refused (revoked, expired, its principal disabled) is audited in its tenant under this action.
   */
  'token.use',
] as const
/** Actions that change something: each call's outcome is appended to the caller's tenant's audit chain. */
export const CHANGE_ACTIONS = [
  'run.start',
  'run.drive',
  'run.fork',
  'run.cancel',
  'run.pause',
  'run.resume',
  'run.decide',
  'run.signal',
  'run.resume-all',
  'workflow.register',
  'index.rebuild',
  'supervisor.start',
  // identity: principals and API tokens
  'principal.create',
  'principal.set-roles',
  'principal.disable',
  'token.create',
  'token.revoke',
  'identity.bootstrap',
  // --- tools and MCP issue (#15) ---
  /** Calling a tool of the catalog (its own requirement is checked too); every call is audited. */
  'tool.invoke',
] as const
export type ReadAction = (typeof READ_ACTIONS)[number]
export type ChangeAction = (typeof CHANGE_ACTIONS)[number]
export const SERVICE_ACTIONS = [...READ_ACTIONS, ...CHANGE_ACTIONS] as const
/** What a service call does, as authorization and audit name it. */
export type ServiceAction = ReadAction | ChangeAction
const READS: ReadonlySet<ServiceAction> = new Set(READ_ACTIONS)

/**
 * What a service call acts on, always within the caller's tenant: one run, one workflow name, the
 * tenant as a whole (listings, the cost ledger, taking over its runs), or the data dir (maintenance,
 * which spans tenants).
 */
export type ServiceResource =
  | { kind: 'run'; id: string }
  | { kind: 'workflow'; name: string }
  | { kind: 'tenant' }
  | { kind: 'data-dir' }
  | { kind: 'principal'; id: string }
  | { kind: 'token'; id: string }
  | { kind: 'tool'; name: string }

/**
 * The gate: returns when the caller may do `action` to `resource`, throws a `ShiiooError` otherwise
 * (FORBIDDEN, UNAUTHENTICATED, ...); the door audits what it refuses.
 */
export type Gate = (caller: CallerContext, action: ServiceAction, resource: ServiceResource) => void

/** Why a caller is not well formed (then no gate can admit it, nor can it be audited), or null. */
export function callerProblem(caller: CallerContext): string | null {
  const tenant: string = caller.tenant
  if (!isTenantId(tenant)) return `caller tenant "${tenant}" is not a tenant id`
  const { actor } = caller
  if (!KINDS.has(actor.kind) || actor.id.length === 0 || actor.id.length > 200) {
    return 'caller actor needs a known kind and an id of 1-200 characters'
  }
  const roles: unknown = caller.roles
  if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string' && KNOWN_ROLES.has(r))) {
    return `caller roles must be a list of ${ROLES.join(', ')}`
  }
  return null
}

/**
 * The orchestrator's default `Gate`: a well-formed caller whose roles allow the action (deny by
 * default: @shiioo/policy decides). A refusal is FORBIDDEN, naming the action and the roles that
 * would allow it. What it refuses, and the outcome of every call that changes something, the door
 * (audit/door.ts) appends to the tenant's audit chain. Quotas come here too.
 */
export function admit(caller: CallerContext, action: ServiceAction, resource: ServiceResource): void {
  const problem = callerProblem(caller)
  if (problem !== null) throw new ShiiooError('INVALID_INPUT', problem)
  const decision = decideBuiltin({
    roles: caller.roles,
    action,
    access: READS.has(action) ? 'read' : 'change',
    resource: { kind: resource.kind, id: resourceId(resource) },
  })
  if (!decision.allow) {
    throw new ShiiooError('FORBIDDEN', `${caller.actor.id} may not ${action}: ${decision.reason}`, {
      details: { action, policyId: decision.policyId },
    })
  }
}

/** The id of what a call acts on (a workflow by its name), null for the tenant or the data dir. */
export function resourceId(resource: ServiceResource): string | null {
  switch (resource.kind) {
    case 'run':
    case 'principal':
    case 'token':
      return resource.id
    case 'workflow':
    case 'tool':
      return resource.name
    case 'tenant':
    case 'data-dir':
      return null
  }
}
