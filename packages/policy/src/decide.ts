/** Whether an action only reads or changes something (the orchestrator says which of its actions is which). */
export type Access = 'read' | 'change'

/** What is asked: may a caller with these roles do this action? */
export interface DecisionInput {
  /** The caller's roles (built-in names today; custom role names plug in through `rbacPolicy`). */
  roles: readonly string[]
  /** The service action, `run.start`, `token.revoke`, ... */
  action: string
  access: Access
  /** What the action is on, for policies that look at it (the built-in roles do not). */
  resource?: { kind: string; id?: string | null }
}

/** The answer, as data: allowed, or refused with why and which policy refused. */
export type Decision = { allow: true } | { allow: false; reason: string; policyId: string }

/** One policy's say: allow, deny with a reason, or no opinion (the next policy decides). */
export type Verdict = { effect: 'allow' } | { effect: 'deny'; reason: string } | null

/** A rule set evaluated by `decide`: pure, no I/O, the same answer for the same input. */
export interface Policy {
  /** Names the policy in a refusal (and so in the audit chain). */
  id: string
  evaluate(input: DecisionInput): Verdict
}

/** The policy id of a refusal no policy spoke to. */
export const DEFAULT_DENY = 'default-deny'

/**
 * Asks `policies` in order: the first that allows or denies decides. When none has an opinion the
 * answer is no (deny by default); `denyReason` says what would have allowed it, for the error a
 * caller sees.
 */
export function decide(
  input: DecisionInput,
  policies: readonly Policy[],
  denyReason: (input: DecisionInput) => string = (i) => `nothing grants ${i.action}`,
): Decision {
  for (const policy of policies) {
    const verdict = policy.evaluate(input)
    if (verdict === null) continue
    if (verdict.effect === 'allow') return { allow: true }
    return { allow: false, reason: verdict.reason, policyId: policy.id }
  }
  return { allow: false, reason: denyReason(input), policyId: DEFAULT_DENY }
}
