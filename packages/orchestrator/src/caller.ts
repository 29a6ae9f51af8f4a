import type { Actor, TenantId } from '@shiioo/core'
import { ACTOR_KINDS, DEFAULT_TENANT, ShiiooError, isTenantId } from '@shiioo/core'

/**
 * Who calls a service, for which tenant. Every service method takes it first; the issues that
 * bring authentication, RBAC, quotas and audit check it in `admit`, so no edge can skip them.
 */
export interface CallerContext {
  readonly tenant: TenantId
  readonly actor: Actor
}

/** The caller of a local command line: the default tenant, acting as the operating-system user. */
export function localCaller(user: string): CallerContext {
  const name = user.trim() || 'unknown'
  return { tenant: DEFAULT_TENANT, actor: { kind: 'user', id: `local:${name}`.slice(0, 200) } }
}

/** The caller for work a process does on its own behalf, such as resuming runs at start. */
export function systemCaller(component: string, tenant: TenantId = DEFAULT_TENANT): CallerContext {
  return { tenant, actor: { kind: 'system', id: component } }
}

const KINDS: ReadonlySet<string> = new Set(ACTOR_KINDS)

/** What a service call does, as authorization and audit will name it. */
export type ServiceAction =
  | 'run.start'
  | 'run.list'
  | 'run.get'
  | 'run.replay'
  | 'run.fork'
  | 'run.cancel'
  | 'run.pause'
  | 'run.resume'
  | 'run.decide'
  | 'run.signal'
  | 'run.resume-all'
  | 'cost.read'
  | 'workflow.register'
  | 'workflow.list'

/**
 * The one gate every service call passes. Today it checks that the caller is well formed; the
 * governance issues add authorization, quotas and the audit record of the attempt here.
 */
export function admit(caller: CallerContext, _action: ServiceAction): void {
  const tenant: string = caller.tenant
  if (!isTenantId(tenant)) throw new ShiiooError('INVALID_INPUT', `caller tenant "${tenant}" is not a tenant id`)
  const { actor } = caller
  if (!KINDS.has(actor.kind) || actor.id.length === 0 || actor.id.length > 200) {
    throw new ShiiooError('INVALID_INPUT', 'caller actor needs a known kind and an id of 1-200 characters')
  }
}
