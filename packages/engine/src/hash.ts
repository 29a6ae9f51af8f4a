import { createHash } from 'node:crypto'
import { ShiiooError } from '@shiioo/core'
import type { RetryPolicy, WorkflowDefinition, WorkflowSpec } from './schema.js'
import { workflowSchema } from './schema.js'

/**
 * JSON with object keys sorted by UTF-16 code units and no whitespace; strings and numbers as
 * JSON.stringify writes them. This is the RFC 8785 (JCS) encoding for the values a definition holds.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value)
    if (text === undefined) throw new ShiiooError('INVALID_INPUT', `a ${typeof value} has no JSON encoding`)
    return text
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}

/**
 * The sha256 (hex) a run is pinned to. The definition is normalized first (durations in
 * milliseconds, every default written out, `$schema` dropped) and lists that are sets (needs,
 * retryOn) are sorted, so YAML and JSON, key order and spelled-out defaults all hash the same,
 * while any change of meaning (a prompt, a dependency, a timeout) changes the hash.
 */
export function hashWorkflow(definition: WorkflowDefinition | WorkflowSpec): string {
  const parsed = workflowSchema.safeParse(definition)
  if (!parsed.success) {
    throw new ShiiooError('INVALID_INPUT', 'cannot hash a workflow definition that does not validate', {
      details: { issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    })
  }
  return hashNormalized(parsed.data)
}

/** The hash of an already normalized definition. */
export function hashNormalized(definition: WorkflowDefinition): string {
  return createHash('sha256').update(canonicalDefinitionText(definition), 'utf8').digest('hex')
}

/** The text a definition is hashed (and stored) as: its canonical form as canonical JSON. */
export function canonicalDefinitionText(definition: WorkflowDefinition): string {
  return canonicalJson(canonicalForm(definition))
}

function canonicalForm(definition: WorkflowDefinition): WorkflowDefinition {
  return {
    ...definition,
    steps: definition.steps.map((step) => ({
      ...step,
      needs: sortedSet(step.needs),
      retry: canonicalRetry(step.retry),
      ...(step.kind === 'foreach' ? { step: { ...step.step, retry: canonicalRetry(step.step.retry) } } : {}),
    })),
  }
}

function canonicalRetry(retry: RetryPolicy): RetryPolicy {
  return { ...retry, retryOn: sortedSet(retry.retryOn) }
}

function sortedSet(values: readonly string[]): string[] {
  return [...new Set(values)].sort()
}
