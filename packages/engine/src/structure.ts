import { z } from 'zod'
import { describeValue } from './inputs.js'
import type { RefinementCode, StepDefinition, WorkflowDefinition } from './schema.js'
import type { ExpressionTargets } from './expression-checks.js'
import { STEP_KINDS, jsonValueSchema, stepSchema, workflowSchema } from './schema.js'
import type { PathSegment, ValidationError, ValidationErrorCode } from './validation-errors.js'
import { didYouMean, formatPath, listNames } from './validation-errors.js'

export type StructureResult = { ok: true; definition: WorkflowDefinition } | { ok: false; errors: ValidationError[] }

/**
 * Checks the shape of a definition against the zod schema (strict objects: unknown fields are
 * errors) and applies defaults. Every issue zod finds is reported, in words a user can act on.
 */
export function checkStructure(input: unknown): StructureResult {
  const allowedFields = new Map<string, string[]>()
  const parsed = workflowSchema.safeParse(input, {
    reportInput: true,
    error: (issue) => {
      // The issue carries the object schema only here: keep its fields to list them in the message.
      if (issue.code === 'unrecognized_keys' && issue.inst instanceof z.ZodObject) {
        allowedFields.set(formatPath(segmentsOf(issue.path ?? [])), Object.keys(issue.inst.shape))
      }
      return undefined
    },
  })
  if (parsed.success) return { ok: true, definition: parsed.data }
  const errors = parsed.error.issues.flatMap((issue) => translate(issue, input, allowedFields))
  return { ok: false, errors }
}

/**
 * The parts of a definition whose shape is valid even though the whole is not, so that their
 * expressions can be checked in the same pass: each step that parses alone, the input names, the output.
 */
export function validParts(input: unknown): ExpressionTargets {
  const rawSteps = valueAt(input, ['steps'])
  const steps: { index: number; step: StepDefinition }[] = []
  if (Array.isArray(rawSteps)) {
    rawSteps.forEach((raw, index) => {
      const parsed = stepSchema.safeParse(raw)
      if (parsed.success) steps.push({ index, step: parsed.data })
    })
  }
  const inputs = valueAt(input, ['inputs'])
  const output = jsonValueSchema.safeParse(valueAt(input, ['output']))
  return {
    steps,
    inputNames: inputs !== null && typeof inputs === 'object' && !Array.isArray(inputs) ? Object.keys(inputs) : [],
    output: output.success ? output.data : undefined,
  }
}

type Issue = z.core.$ZodIssue

function segmentsOf(path: readonly PropertyKey[]): PathSegment[] {
  return path.filter((p): p is PathSegment => typeof p !== 'symbol')
}

function translate(issue: Issue, root: unknown, allowedFields: ReadonlyMap<string, string[]>): ValidationError[] {
  const segments = segmentsOf(issue.path)
  const path = formatPath(segments)
  const label = subjectOf(segments, root)
  const error = (code: ValidationErrorCode, message: string, at = path): ValidationError => ({
    path: at,
    code,
    message: label + message,
  })
  const field = fieldName(segments)
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return [error('missing_field', `missing required field "${field}"`)]
      if (segments.length === 0) {
        return [
          error('invalid_field', `a workflow definition is an object (a mapping), not ${describeValue(issue.input)}`),
        ]
      }
      return [
        error('invalid_field', `${field} must be ${expectedName(issue.expected)}, not ${describeValue(issue.input)}`),
      ]
    }
    case 'invalid_format':
      return [error('invalid_field', `${field} ${clip(issue.input)} is not valid: ${issue.message}`)]
    case 'too_small':
      return [error('invalid_field', tooSmall(field, segments, issue.origin, Number(issue.minimum)))]
    case 'too_big':
      return [error('invalid_field', tooBig(field, issue.origin, Number(issue.maximum)))]
    case 'invalid_value':
      return [
        error(
          'invalid_field',
          `${field} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, not ${clip(issue.input)}`,
        ),
      ]
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? issue.message
      return [error('invalid_field', `${clip(issue.input)} is not a valid name: ${inner}`)]
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownField(key, segments, root, allowedFields.get(path) ?? [], label))
    case 'invalid_union':
      return [unionError(issue, segments, root, label)]
    case 'custom': {
      const params = issue.params as { code?: RefinementCode; showValue?: boolean } | undefined
      const message = params?.showValue ? `${field} ${clip(issue.input)} is not valid: ${issue.message}` : issue.message
      return [error(params?.code ?? 'invalid_field', message)]
    }
    case 'not_multiple_of':
    case 'invalid_element':
      return [error('invalid_field', `${field}: ${issue.message}`)]
  }
}

/** `step "fetch": ` for anything inside a step whose id can be read, `input "topic": ` inside an input. */
function subjectOf(segments: readonly PathSegment[], root: unknown): string {
  if (segments[0] === 'inputs' && typeof segments[1] === 'string' && segments.length > 2) {
    return `input "${segments[1]}": `
  }
  if (segments[0] !== 'steps' || typeof segments[1] !== 'number') return ''
  const id = valueAt(root, ['steps', segments[1], 'id'])
  const name = typeof id === 'string' ? `step "${id}"` : `step ${segments[1] + 1}`
  return segments[2] === 'step' ? `${name} (foreach body): ` : `${name}: `
}

/** The field's path inside its step or input (`retry.maxAttempts`), or from the top. */
function fieldName(segments: readonly PathSegment[]): string {
  let rest = segments
  if (rest[0] === 'steps' && typeof rest[1] === 'number') rest = rest.slice(2)
  else if (rest[0] === 'inputs' && rest.length > 2) rest = rest.slice(2)
  return rest.length > 0 ? formatPath(rest) : 'the value'
}

function unknownField(
  key: string,
  segments: readonly PathSegment[],
  root: unknown,
  allowed: readonly string[],
  label: string,
): ValidationError {
  const path = formatPath([...segments, key])
  const inBody = segments.length === 3 && segments[0] === 'steps' && segments[2] === 'step'
  if (inBody && (key === 'id' || key === 'needs')) {
    const owner = valueAt(root, ['steps', segments[1]!, 'id'])
    return {
      path,
      code: 'foreach_body',
      message: `${label}a foreach body has no ${key}: it runs as part of step ${JSON.stringify(owner)} with that step's id and needs`,
    }
  }
  const kind = valueAt(root, [...segments, 'kind'])
  const where =
    typeof kind === 'string' && segments.includes('steps')
      ? ` of ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} step`
      : ''
  const allowedList = allowed.filter((f) => f !== '$schema')
  return {
    path,
    code: 'unknown_field',
    message: `${label}unknown field "${key}"${where}${didYouMean(key, allowedList)}; allowed: ${listNames(allowedList, 20)}`,
  }
}

function unionError(
  issue: Extract<Issue, { code: 'invalid_union' }>,
  segments: readonly PathSegment[],
  root: unknown,
  label: string,
): ValidationError {
  const path = formatPath(segments)
  if (issue.discriminator !== 'kind') {
    if (valueAt(root, segments) === undefined) {
      return { path, code: 'missing_field', message: `${label}missing required field "${fieldName(segments)}"` }
    }
    return { path, code: 'invalid_field', message: `${label}${fieldName(segments)} ${issue.message}` }
  }
  const kind = valueAt(root, segments)
  const inBody = segments.length === 4 && segments[2] === 'step'
  const valid = inBody ? STEP_KINDS.filter((k) => k !== 'foreach') : [...STEP_KINDS]
  if (kind === undefined) {
    return {
      path,
      code: 'missing_field',
      message: `${label}missing required field "kind" (one of ${valid.join(', ')})`,
    }
  }
  if (inBody && kind === 'foreach') {
    return {
      path,
      code: 'foreach_body',
      message: `${label}a foreach body cannot be a foreach; fan out inside a subworkflow step instead`,
    }
  }
  const shown = typeof kind === 'string' ? JSON.stringify(kind) : describeValue(kind)
  return {
    path,
    code: 'unknown_kind',
    message: `${label}unknown step kind ${shown}${typeof kind === 'string' ? didYouMean(kind, valid) : ''}; valid kinds: ${valid.join(', ')}`,
  }
}

function tooSmall(field: string, segments: readonly PathSegment[], origin: string, minimum: number): string {
  if (segments.length === 1 && segments[0] === 'steps') return 'a workflow needs at least one step'
  if (origin === 'array') return `${field} needs at least ${minimum} item${minimum === 1 ? '' : 's'}`
  if (origin === 'string') return minimum <= 1 ? `${field} must not be empty` : `${field} needs ${minimum}+ characters`
  return `${field} must be at least ${minimum}`
}

function tooBig(field: string, origin: string, maximum: number): string {
  if (origin === 'array') return `${field} has more than ${maximum} items`
  if (origin === 'string') return `${field} is longer than ${maximum} characters`
  return `${field} must be at most ${maximum}`
}

function expectedName(expected: string): string {
  switch (expected) {
    case 'array':
      return 'a list'
    case 'object':
    case 'record':
      return 'an object'
    case 'int':
      return 'an integer'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'true or false'
    case 'string':
      return 'a string'
    default:
      return expected
  }
}

export function valueAt(root: unknown, segments: readonly PathSegment[]): unknown {
  let current = root
  for (const s of segments) {
    if (current === null || typeof current !== 'object') return undefined
    if (!Object.prototype.hasOwnProperty.call(current, s)) return undefined
    current = (current as Record<string | number, unknown>)[s]
  }
  return current
}

function clip(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  if (typeof value !== 'string') return describeValue(value)
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
}
