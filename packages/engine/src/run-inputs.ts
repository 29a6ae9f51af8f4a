import type { Json } from '@shiioo/core'
import { article, describeValue, matchesInputType } from './inputs.js'
import type { ValueProblem } from './value-limits.js'
import { INPUT_DEPTH, valueProblem } from './value-limits.js'
import type { WorkflowDefinition } from './schema.js'
import type { ValidationError } from './validation-errors.js'
import { didYouMean, formatPath, sortErrors } from './validation-errors.js'

export type RunInputsResult = { ok: true; inputs: Record<string, Json> } | { ok: false; errors: ValidationError[] }

/**
 * Checks the inputs given to a run against the workflow's declarations and fills in defaults:
 * every required input present, nothing undeclared, each value of its declared type.
 */
export function resolveRunInputs(
  definition: WorkflowDefinition,
  provided: Readonly<Record<string, unknown>>,
): RunInputsResult {
  const errors: ValidationError[] = []
  const inputs: Record<string, Json> = {}
  const declared = Object.keys(definition.inputs)
  let problem: ValueProblem | null
  for (const [name, value] of Object.entries(provided)) {
    const declaration = definition.inputs[name]
    const path = formatPath(['inputs', name])
    if (!declaration) {
      errors.push({
        path,
        code: 'unknown_field',
        message:
          declared.length === 0
            ? `input "${name}" is not declared; the workflow takes no inputs`
            : `input "${name}" is not declared${didYouMean(name, declared)}; declared inputs: ${declared.join(', ')}`,
      })
    } else if ((problem = valueProblem(value, Number.MAX_SAFE_INTEGER, INPUT_DEPTH)) !== null) {
      errors.push({
        path,
        code: problem.kind === 'depth' ? 'limit_exceeded' : 'invalid_field',
        message: `input "${name}" ${problem.message}`,
      })
    } else if (!matchesInputType(declaration.type, value)) {
      errors.push({
        path,
        code: 'invalid_field',
        message: `input "${name}" must be ${article(declaration.type)}, not ${describeValue(value)}`,
      })
    } else {
      Object.defineProperty(inputs, name, { value, enumerable: true, writable: true, configurable: true })
    }
  }
  for (const [name, declaration] of Object.entries(definition.inputs)) {
    if (Object.prototype.hasOwnProperty.call(provided, name)) continue
    if (declaration.default !== undefined) inputs[name] = declaration.default
    else if (declaration.required) {
      errors.push({ path: formatPath(['inputs', name]), code: 'missing_field', message: `input "${name}" is required` })
    }
  }
  return errors.length > 0 ? { ok: false, errors: sortErrors(errors) } : { ok: true, inputs }
}
