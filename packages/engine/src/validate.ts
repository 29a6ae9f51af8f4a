import { ShiiooError } from '@shiioo/core'
import { checkExpressions, targetsOf } from './expression-checks.js'
import { checkGraph } from './graph-checks.js'
import { hashNormalized } from './hash.js'
import type { ValidationLimits } from './limits.js'
import { resolveLimits } from './limits.js'
import type { WorkflowDefinition } from './schema.js'
import { checkStructure, validParts } from './structure.js'
import { checkValueDepths } from './value-checks.js'
import { nestingDepth } from './value-limits.js'
import type { ValidationError } from './validation-errors.js'
import { formatValidationErrors, sortErrors } from './validation-errors.js'

export interface ValidateOptions {
  /** Overrides of DEFAULT_VALIDATION_LIMITS. */
  readonly limits?: Partial<ValidationLimits>
}

export interface ValidWorkflow {
  /** The normalized definition: durations in milliseconds, every default applied. */
  readonly workflow: WorkflowDefinition
  /** sha256 hex of its canonical JSON (see hashWorkflow); runs are pinned to it. */
  readonly hash: string
}

export type ValidationResult = ({ ok: true } & ValidWorkflow) | { ok: false; errors: ValidationError[] }

/**
 * Validates a definition (parsed YAML or JSON, or built in TypeScript) completely before anything
 * runs. All problems are reported together, sorted by path: the shape of every field, the
 * dependency graph (duplicates, unknown needs, self-dependencies, cycles), every expression
 * (syntax, types, what it reads) and the limits. Graph problems are found even when fields are
 * wrong, and the expressions of every step whose own shape is right are checked too.
 */
export function validateWorkflow(input: unknown, options: ValidateOptions = {}): ValidationResult {
  const limits = resolveLimits(options.limits)
  // before anything recursive (JSON.stringify included) walks it
  if (nestingDepth(input, limits.maxNesting) > limits.maxNesting) {
    return { ok: false, errors: [{ path: '', ...nestingError(limits.maxNesting) }] }
  }
  const sizeError = checkSize(input, limits)
  if (sizeError) return { ok: false, errors: [sizeError] }
  const structure = checkStructure(input)
  const graph = checkGraph(input, limits)
  const targets = structure.ok ? targetsOf(structure.definition) : validParts(input)
  const errors = [
    ...graph.errors,
    ...(structure.ok ? [] : structure.errors),
    ...checkExpressions(targets, { limits, stepIds: graph.ids, ancestors: graph.ancestors }),
  ]
  if (structure.ok) errors.push(...checkValueDepths(structure.definition))
  if (errors.length > 0 || !structure.ok) return { ok: false, errors: sortErrors(errors) }
  return { ok: true, workflow: structure.definition, hash: hashNormalized(structure.definition) }
}

/** Like validateWorkflow, but throws INVALID_INPUT listing every problem (`details.errors`). */
export function assertValidWorkflow(input: unknown, options: ValidateOptions = {}): ValidWorkflow {
  const result = validateWorkflow(input, options)
  if (result.ok) return { workflow: result.workflow, hash: result.hash }
  throw invalidWorkflowError(result.errors)
}

export function invalidWorkflowError(errors: readonly ValidationError[]): ShiiooError {
  const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`
  return new ShiiooError(
    'INVALID_INPUT',
    `invalid workflow definition (${count}):\n${formatValidationErrors(errors)}`,
    {
      details: { errors },
    },
  )
}

function checkSize(input: unknown, limits: ValidationLimits): ValidationError | undefined {
  let text: string | undefined
  try {
    text = JSON.stringify(input)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return { path: '', code: 'invalid_field', message: `the definition is not JSON data: ${reason}` }
  }
  const bytes = text === undefined ? 0 : Buffer.byteLength(text, 'utf8')
  if (bytes <= limits.maxDefinitionBytes) return undefined
  return {
    path: '',
    code: 'limit_exceeded',
    message: `the definition has ${bytes} bytes as JSON, over the limit maxDefinitionBytes (${limits.maxDefinitionBytes})`,
  }
}

/** The definition nests deeper than maxNesting: refused before it is parsed or walked any further. */
export function nestingError(maxNesting: number): Pick<ValidationError, 'code' | 'message'> {
  return {
    code: 'limit_exceeded',
    message: `the definition nests lists and maps more than ${maxNesting} levels deep, over the limit maxNesting (${maxNesting})`,
  }
}
