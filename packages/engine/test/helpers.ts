import type { ValidateOptions, ValidationError } from '../src/index.js'
import { validateWorkflow } from '../src/index.js'

/** The errors of a definition that must not validate. */
export function errorsOf(input: unknown, options?: ValidateOptions): ValidationError[] {
  const result = validateWorkflow(input, options)
  if (result.ok) throw new Error('expected the definition to be invalid, but it validated')
  return result.errors
}

/** The single error of a definition with exactly one problem. */
export function onlyError(input: unknown, options?: ValidateOptions): ValidationError {
  const errors = errorsOf(input, options)
  if (errors.length !== 1)
    throw new Error(`expected one error, got ${errors.length}:\n${JSON.stringify(errors, null, 2)}`)
  return errors[0]!
}

/** A workflow of transform steps wired by the given needs: `chain({ a: [], b: ['a'] })`. */
export function workflowOf(needs: Record<string, string[]>, extra: Record<string, unknown> = {}) {
  return {
    name: 'test-flow',
    steps: Object.entries(needs).map(([id, deps]) => ({ id, kind: 'transform', needs: deps, output: id })),
    ...extra,
  }
}
