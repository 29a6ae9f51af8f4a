import { createHash } from 'node:crypto'
import { ShiiooError, canonicalJson } from '@shiioo/core'
import type { RetryPolicy, WorkflowDefinition, WorkflowSpec } from './schema.js'
import { workflowSchema } from './schema.js'

/** The canonical JSON (RFC 8785) that definitions, inputs and audit entries are hashed in. */
export { canonicalJson }

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
