export type { Access, Decision, DecisionInput, Policy, Verdict } from './decide.js'
export { DEFAULT_DENY, decide } from './decide.js'
export type { Grant, RoleGrants } from './roles.js'
export {
  BUILTIN_GRANTS,
  BUILTIN_POLICIES,
  RBAC_POLICY_ID,
  decideBuiltin,
  isRole,
  rbacPolicy,
  roleGrants,
  rolesGranting,
} from './roles.js'
export type { Role } from '@shiioo/core'
export { ROLES } from '@shiioo/core'
