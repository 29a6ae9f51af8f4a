import { describe, expect, it } from 'vitest'
import type { Access, Policy } from './index.js'
import {
  BUILTIN_GRANTS,
  DEFAULT_DENY,
  RBAC_POLICY_ID,
  ROLES,
  decide,
  decideBuiltin,
  rbacPolicy,
  rolesGranting,
} from './index.js'

/**
 * Every action the orchestrator names today, with its access, and the built-in roles that may do
 * it: the full matrix (`a` admin, `o` operator, `p` approver, `u` auditor, `v` viewer).
 */
const MATRIX: ReadonlyArray<[action: string, access: Access, roles: string]> = [
  ['run.list', 'read', 'aopuv'],
  ['run.read', 'read', 'aopuv'],
  ['run.replay', 'read', 'aouv'],
  ['cost.read', 'read', 'aou'],
  ['workflow.list', 'read', 'aouv'],
  ['data.verify', 'read', 'au'],
  ['audit.list', 'read', 'au'],
  ['audit.verify', 'read', 'au'],
  ['audit.export', 'read', 'au'],
  ['principal.list', 'read', 'au'],
  ['principal.read', 'read', 'au'],
  ['token.list', 'read', 'au'],
  ['identity.whoami', 'read', 'aopuv'],
  ['workflow.read', 'read', 'aouv'],
  ['approval.list', 'read', 'aopu'],
  ['capacity.read', 'read', 'aou'],
  ['metrics.read', 'read', 'aou'],
  ['tool.list', 'read', 'aopuv'],
  ['token.use', 'read', 'aopuv'],
  ['run.start', 'change', 'ao'],
  ['run.drive', 'change', 'ao'],
  ['run.fork', 'change', 'ao'],
  ['run.cancel', 'change', 'ao'],
  ['run.pause', 'change', 'ao'],
  ['run.resume', 'change', 'ao'],
  ['run.decide', 'change', 'ap'],
  ['run.signal', 'change', 'ao'],
  ['run.resume-all', 'change', 'ao'],
  ['workflow.register', 'change', 'a'],
  ['index.rebuild', 'change', 'a'],
  ['supervisor.start', 'change', 'a'],
  ['principal.create', 'change', 'a'],
  ['principal.set-roles', 'change', 'a'],
  ['principal.disable', 'change', 'a'],
  ['token.create', 'change', 'a'],
  ['token.revoke', 'change', 'a'],
  ['identity.bootstrap', 'change', 'a'],
  ['tool.invoke', 'change', 'aopv'],
  ['tool.call', 'change', 'ao'],
]
const LETTER = { admin: 'a', operator: 'o', approver: 'p', auditor: 'u', viewer: 'v' } as const

describe('the built-in roles', () => {
  it('the table has a row for every built-in role', () => {
    expect(Object.keys(BUILTIN_GRANTS).sort()).toEqual([...ROLES].sort())
  })

  for (const role of ROLES) {
    it(`${role}: allows exactly its column of the matrix`, () => {
      for (const [action, access, allowed] of MATRIX) {
        const decision = decideBuiltin({ roles: [role], action, access })
        expect(decision.allow, `${role} ${action}`).toBe(allowed.includes(LETTER[role]))
      }
    })
  }

  it('no role, an unknown role or an unknown action: denied by default, naming the roles that would allow', () => {
    expect(decideBuiltin({ roles: [], action: 'run.start', access: 'change' })).toEqual({
      allow: false,
      policyId: DEFAULT_DENY,
      reason: 'run.start needs one of the roles admin, operator; the caller has none',
    })
    expect(decideBuiltin({ roles: ['root', 'toString'], action: 'run.read', access: 'read' })).toMatchObject({
      allow: false,
      reason:
        'run.read needs one of the roles admin, operator, approver, auditor, viewer; the caller has root, toString',
    })
    expect(decideBuiltin({ roles: ['viewer'], action: 'run.cancel', access: 'change' })).toMatchObject({
      allow: false,
      reason: 'run.cancel needs one of the roles admin, operator; the caller has viewer',
    })
    // an action nobody lists is admin's only (admin has every action), and an auditor's when it only reads
    expect(rolesGranting('secret.rotate', 'change')).toEqual(['admin'])
    expect(rolesGranting('secret.list', 'read')).toEqual(['admin', 'auditor'])
  })

  it('several roles: the union of their grants', () => {
    expect(decideBuiltin({ roles: ['viewer', 'approver'], action: 'run.decide', access: 'change' })).toEqual({
      allow: true,
    })
  })
})

describe('decide', () => {
  const deny = (id: string, action: string): Policy => ({
    id,
    evaluate: (i) => (i.action === action ? { effect: 'deny', reason: `${action} is frozen` } : null),
  })

  it('the first policy with an opinion decides; a policy before the roles can deny what they allow', () => {
    const policies = [deny('freeze', 'run.start'), rbacPolicy()]
    expect(decide({ roles: ['admin'], action: 'run.start', access: 'change' }, policies)).toEqual({
      allow: false,
      reason: 'run.start is frozen',
      policyId: 'freeze',
    })
    expect(decide({ roles: ['admin'], action: 'run.cancel', access: 'change' }, policies)).toEqual({ allow: true })
  })

  it('custom roles are rows of a grants table', () => {
    const table = { ...BUILTIN_GRANTS, 'run-starter': [{ action: 'run.start' }, { action: 'workflow.*' }] }
    const policies = [rbacPolicy(table, 'rbac.custom')]
    expect(decide({ roles: ['run-starter'], action: 'run.start', access: 'change' }, policies).allow).toBe(true)
    expect(decide({ roles: ['run-starter'], action: 'workflow.register', access: 'change' }, policies).allow).toBe(true)
    expect(decide({ roles: ['run-starter'], action: 'run.cancel', access: 'change' }, policies)).toMatchObject({
      allow: false,
      policyId: DEFAULT_DENY,
    })
    expect(rolesGranting('workflow.list', 'read', table)).toEqual([
      'admin',
      'operator',
      'auditor',
      'viewer',
      'run-starter',
    ])
  })

  it('no policy at all denies everything', () => {
    expect(decide({ roles: ['admin'], action: 'run.list', access: 'read' }, [])).toMatchObject({ allow: false })
    expect(RBAC_POLICY_ID).toBe('rbac.builtin-roles')
  })
})
