import type { Role, TenantId } from '@shiioo/core'
import { ACTOR_KINDS, ROLES, ShiiooError } from '@shiioo/core'
import type { Permits, ToolCaller } from '@shiioo/mcp'
import { decideBuiltin } from '@shiioo/policy'
import type { CallerContext } from '../caller.js'
import { READ_ACTIONS } from '../caller.js'

const KINDS: ReadonlySet<string> = new Set(ACTOR_KINDS)
const KNOWN_ROLES: ReadonlySet<string> = new Set(ROLES)
const READS: ReadonlySet<string> = new Set(READ_ACTIONS)

/** The catalog's view of a service caller: `actor` as audit entries name it (`user:ana`). */
export function toolCallerOf(caller: CallerContext): ToolCaller {
  return { tenant: caller.tenant, actor: `${caller.actor.kind}:${caller.actor.id}`, roles: caller.roles }
}

/**
 * The service caller a tool acts as: the one `toolCallerOf` made (so Shiioo's own tools call the
 * services as the MCP client's principal or the workflow, and the services check it again).
 */
export function callerOfTool(caller: ToolCaller): CallerContext {
  const colon = caller.actor.indexOf(':')
  const kind = caller.actor.slice(0, colon)
  const id = caller.actor.slice(colon + 1)
  if (colon <= 0 || !KINDS.has(kind) || id.length === 0) {
    throw new ShiiooError('INVALID_INPUT', `tool caller "${caller.actor}" does not name an actor as kind:id`)
  }
  const roles = caller.roles.filter((r): r is Role => KNOWN_ROLES.has(r))
  return { tenant: caller.tenant, actor: { kind: kind as CallerContext['actor']['kind'], id }, roles }
}

/**
 * Who a workflow's tool calls act as (agent steps and tool steps): the run's agent, with the
 * rights of an operator. Only admins and operators may start runs, so a workflow never gets more
 * than the one who started it; Shiioo's own tools then check the operator's grants (an agent
 * cannot decide approvals). Governance binds this to the starter's own roles in a later issue.
 */
export function workflowCaller(tenant: TenantId, runId: string, stepId: string): CallerContext {
  return { tenant, actor: { kind: 'agent', id: `${runId}/${stepId}`.slice(0, 200) }, roles: ['operator'] }
}

/** The catalog's grant check: the caller's roles allow the tool's requirement (@shiioo/policy). */
export const permits: Permits = (caller, action) =>
  decideBuiltin({ roles: caller.roles, action, access: READS.has(action) ? 'read' : 'change' }).allow
