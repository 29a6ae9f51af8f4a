import type { Role } from '@shiioo/core'
import { ROLES } from '@shiioo/core'
import type { Access, Decision, DecisionInput, Policy } from './decide.js'
import { decide } from './decide.js'

/**
 * What a role may do: `action` is one action (`run.start`), a family (`run.*`) or every action
 * (`*`); `access`, when given, narrows it to actions that only read or only change.
 */
export interface Grant {
  action: string
  access?: Access
}

/** Role name → its grants: data, so custom roles are rows added to a table, not code. */
export type RoleGrants = Readonly<Record<string, readonly Grant[]>>

const READS_RUNS: readonly Grant[] = [{ action: 'run.list' }, { action: 'run.read' }]
/** Every role may ask who it is (GET /api/me): a token's holder learns nothing it could not already do. */
const WHOAMI: Grant = { action: 'identity.whoami' }
/** Presenting one's token (authenticating): every role; only refusals are recorded. */
const TOKEN_USE: Grant = { action: 'token.use' }
/**
 * Every role but the auditor (who changes nothing) may see the tool catalog and call its tools:
 * each tool is shown and run only when the role also has the tool's own requirement (the service
 * action a Shiioo tool performs, or `tool.call` for tools that reach outside Shiioo).
 */
const TOOLS: readonly Grant[] = [{ action: 'tool.list' }, { action: 'tool.invoke' }]

/** The built-in roles (docs/identity.md has them as a table). */
export const BUILTIN_GRANTS: Readonly<Record<Role, readonly Grant[]>> = {
  admin: [{ action: '*' }],
  /** Starts and steers runs, and reads runs, workflows and costs. */
  operator: [
    { action: 'run.start' },
    { action: 'run.drive' },
    { action: 'run.fork' },
    { action: 'run.cancel' },
    { action: 'run.pause' },
    { action: 'run.resume' },
    { action: 'run.signal' },
    { action: 'run.resume-all' },
    ...READS_RUNS,
    WHOAMI,
    TOKEN_USE,
    { action: 'run.replay' },
    { action: 'cost.read' },
    { action: 'workflow.list' },
    { action: 'workflow.read' },
    { action: 'approval.list' },
    { action: 'capacity.read' },
    { action: 'metrics.read' },
    ...TOOLS,
    /** Tools that reach outside Shiioo: http.fetch, files.*, external MCP servers' tools. */
    { action: 'tool.call' },
  ],
  /** Decides approval steps, lists those waiting, and reads the runs it decides on. */
  approver: [{ action: 'run.decide' }, { action: 'approval.list' }, ...READS_RUNS, WHOAMI, TOKEN_USE, ...TOOLS],
  /** Reads everything (audit chain, principals and tokens included), changes nothing. */
  auditor: [{ action: '*', access: 'read' }],
  /** Reads runs and workflows. */
  viewer: [
    ...READS_RUNS,
    WHOAMI,
    TOKEN_USE,
    { action: 'run.replay' },
    { action: 'workflow.list' },
    { action: 'workflow.read' },
    ...TOOLS,
  ],
}

export const RBAC_POLICY_ID = 'rbac.builtin-roles'

function grants(grant: Grant, action: string, access: Access): boolean {
  if (grant.access !== undefined && grant.access !== access) return false
  if (grant.action === '*' || grant.action === action) return true
  return grant.action.endsWith('.*') && action.startsWith(grant.action.slice(0, -1))
}

/** Whether `role` (per `table`) grants `action`; an unknown role grants nothing. */
export function roleGrants(role: string, action: string, access: Access, table: RoleGrants = BUILTIN_GRANTS): boolean {
  const list = Object.prototype.hasOwnProperty.call(table, role) ? table[role] : undefined
  return list?.some((g) => grants(g, action, access)) ?? false
}

/** The roles of `table` that grant `action`, in the table's order: what a refusal tells the caller to ask for. */
export function rolesGranting(action: string, access: Access, table: RoleGrants = BUILTIN_GRANTS): string[] {
  return Object.keys(table).filter((role) => roleGrants(role, action, access, table))
}

/**
 * Role-based access: allows when one of the caller's roles grants the action, and otherwise has no
 * opinion (so a later policy may still allow, and with none, the default is to deny).
 */
export function rbacPolicy(table: RoleGrants = BUILTIN_GRANTS, id = RBAC_POLICY_ID): Policy {
  return {
    id,
    evaluate: (input) =>
      input.roles.some((r) => roleGrants(r, input.action, input.access, table)) ? { effect: 'allow' } : null,
  }
}

/** The policies a default gate asks: the built-in roles. */
export const BUILTIN_POLICIES: readonly Policy[] = [rbacPolicy()]

function listOf(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.join(', ')
}

/**
 * The built-in decision: may a caller with `roles` do `action`? Deny by default; a refusal names
 * the caller's roles and the roles that would allow it.
 */
export function decideBuiltin(input: DecisionInput, policies: readonly Policy[] = BUILTIN_POLICIES): Decision {
  return decide(input, policies, (i) => {
    const needed = rolesGranting(i.action, i.access)
    return `${i.action} needs one of the roles ${listOf(needed)}; the caller has ${listOf(i.roles)}`
  })
}

/** Whether `name` is a built-in role. */
export function isRole(name: string): name is Role {
  return (ROLES as readonly string[]).includes(name)
}
