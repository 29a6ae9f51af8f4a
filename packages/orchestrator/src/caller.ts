import type { Actor, TenantId } from '@shiioo/core'
import { ACTOR_KINDS, DEFAULT_TENANT, ShiiooError, isTenantId } from '@shiioo/core'

/**
 * Who calls a service, for which tenant. Every service method takes it first and names what it
 * does to the gate (`admit`), so no edge can skip the checks the governance issues put there.
 */
export interface CallerContext {
  readonly tenant: TenantId
  readonly actor: Actor
}

/** The caller of a local command line: acting as the operating-system user, in the default tenant unless told. */
export function localCaller(user: string, tenant: TenantId = DEFAULT_TENANT): CallerContext {
  const name = user.trim() || 'unknown'
  return { tenant, actor: { kind: 'user', id: `local:${name}`.slice(0, 200) } }
}

/** The caller for work a process does on its own behalf, such as resuming runs at start. */
export function systemCaller(component: string, tenant: TenantId = DEFAULT_TENANT): CallerContext {
  return { tenant, actor: { kind: 'system', id: component } }
}

const KINDS: ReadonlySet<string> = new Set(ACTOR_KINDS)

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
  // --- live subscriptions (GraphQL edge) ---
  /** The approvals of the tenant's runs that begin waiting for a decision (what an approver watches). */
  'approval.list',
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
] as const
export type ReadAction = (typeof READ_ACTIONS)[number]
export type ChangeAction = (typeof CHANGE_ACTIONS)[number]
export const SERVICE_ACTIONS = [...READ_ACTIONS, ...CHANGE_ACTIONS] as const
/** What a service call does, as authorization and audit name it. */
export type ServiceAction = ReadAction | ChangeAction

/**
 * What a service call acts on, always within the caller's tenant: one run, one workflow name, the
 * tenant as a whole (listings, the cost ledger, taking over its runs), or the data dir (maintenance,
 * which spans tenants).
 */
export type ServiceResource =
  { kind: 'run'; id: string } | { kind: 'workflow'; name: string } | { kind: 'tenant' } | { kind: 'data-dir' }

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
  return null
}

/**
 * The orchestrator's default `Gate`. Today it checks that the caller is well formed; the
 * governance issues add authorization and quotas here. What it refuses, and the outcome of every
 * call that changes something, the door (audit/door.ts) appends to the tenant's audit chain.
 */
export function admit(caller: CallerContext, _action: ServiceAction, _resource: ServiceResource): void {
  const problem = callerProblem(caller)
  if (problem !== null) throw new ShiiooError('INVALID_INPUT', problem)
}
