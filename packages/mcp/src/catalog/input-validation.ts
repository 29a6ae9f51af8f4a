import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import { ShiiooError, type Json } from '@shiioo/core'
import type { JsonSchemaObject } from './types.js'

/** Checks one tool's input against its schema; compiled once, when the catalog starts. */
export type InputValidator = (input: Json) => void

/** One schema problem, as INVALID_INPUT's `details.errors` lists it. */
export interface InputProblem {
  /** Where in the input, as `input.url` or `input.items[2].name`. */
  path: string
  message: string
  keyword: string
}

/**
 * One ajv per catalog, on JSON Schema 2020-12. `allErrors: false` stops at the first problem (the
 * message names it, and a hostile input cannot make validation do more work than that); `strict:
 * false` because external servers' schemas carry keywords and formats ajv does not know.
 */
export function createInputValidators(): (schema: JsonSchemaObject, tool: string, source: string) => InputValidator {
  const ajv = new Ajv2020({ allErrors: false, strict: false, validateFormats: false })
  return (schema, tool, source) => {
    let validate: ValidateFunction
    try {
      validate = ajv.compile(compilable(schema))
    } catch (error) {
      throw new ShiiooError(
        'INVALID_INPUT',
        `tool ${tool} of source ${source} has an input schema that cannot be compiled: ${(error as Error).message}`,
        { details: { tool, source }, cause: error },
      )
    }
    return (input) => {
      if (validate(input)) return
      const problems = (validate.errors ?? []).map(toProblem)
      const first = problems[0] ?? { path: 'input', message: 'does not match the input schema', keyword: 'schema' }
      throw new ShiiooError('INVALID_INPUT', `${tool}: ${first.path}: ${first.message}`, {
        // `field` names the first bad one, as every edge's INVALID_INPUT does
        details: { tool, field: first.path, errors: problems },
      })
    }
  }
}

/**
 * Drops the top-level `$schema` and `$id`: servers built with zod-to-json-schema declare draft-07,
 * whose meta-schema a 2020-12 ajv does not hold (the keywords tools use mean the same in both), and
 * two tools' schemas with one `$id` would collide in the shared ajv.
 */
function compilable(schema: JsonSchemaObject): Record<string, unknown> {
  const { $schema: _schema, $id: _id, ...rest } = schema
  return rest
}

function toProblem(error: ErrorObject): InputProblem {
  const segments = error.instancePath === '' ? [] : error.instancePath.slice(1).split('/').map(unescapePointer)
  const params = error.params as Record<string, unknown>
  let message = error.message ?? 'is invalid'
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
    segments.push(params.missingProperty)
    message = 'is required'
  } else if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    segments.push(params.additionalProperty)
    message = 'is not an accepted field'
  }
  return { path: segments.reduce(appendSegment, 'input'), message, keyword: error.keyword }
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~')
}

function appendSegment(path: string, segment: string): string {
  if (/^(0|[1-9][0-9]*)$/.test(segment)) return `${path}[${segment}]`
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(segment)) return `${path}.${segment}`
  return `${path}[${JSON.stringify(segment)}]`
}
