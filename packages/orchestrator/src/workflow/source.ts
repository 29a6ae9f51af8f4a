import { ShiiooError } from '@shiioo/core'
import type { ValidWorkflow, ValidationError, WorkflowFormat } from '@shiioo/engine'
import { formatValidationErrors, parseWorkflow, resolveRunInputs, validateWorkflow } from '@shiioo/engine'
import type { Same } from '../same-type.js'

export const WORKFLOW_FORMATS = ['yaml', 'json'] as const
/** The text formats of a workflow definition. */
export type WorkflowSourceFormat = (typeof WORKFLOW_FORMATS)[number]
const _formatsMatch: Same<WorkflowSourceFormat, WorkflowFormat> = true
void _formatsMatch

/**
 * A workflow definition as a caller hands it over: text (YAML or JSON) or an object already
 * parsed. `origin` names where it came from (a file path) in error messages.
 */
export type WorkflowSource =
  { text: string; format?: WorkflowSourceFormat; origin?: string } | { definition: unknown; origin?: string }

/** Parses and validates a source; INVALID_INPUT lists every problem with its line and column. */
export function readWorkflowSource(source: WorkflowSource): ValidWorkflow {
  const result = 'text' in source ? parseWorkflow(source.text, source.format) : validateWorkflow(source.definition)
  if (result.ok) return { workflow: result.workflow, hash: result.hash }
  const count = result.errors.length === 1 ? '1 problem' : `${result.errors.length} problems`
  const where = source.origin === undefined ? 'workflow definition' : `workflow ${source.origin}`
  const lines = formatValidationErrors(result.errors)
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')
  return invalid(`invalid ${where} (${count}):\n${lines}`, result.errors, source.origin)
}

function invalid(message: string, errors: readonly ValidationError[], origin: string | undefined): never {
  throw new ShiiooError('INVALID_INPUT', message, {
    details: { errors, ...(origin === undefined ? {} : { origin }) },
  })
}

/**
 * Checks a start's workflow and input without opening anything (no store, no data dir): for an
 * edge that should refuse bad input before it makes or touches its data dir. `runs.start` checks
 * the same again (and what only the stores can tell: sub-workflows, idempotency keys).
 */
export function checkRunRequest(source: WorkflowSource, input: Readonly<Record<string, unknown>> = {}): void {
  const main = readWorkflowSource(source)
  const inputs = resolveRunInputs(main.workflow, input)
  if (!inputs.ok) {
    throw new ShiiooError('INVALID_INPUT', `bad run input:\n${formatValidationErrors(inputs.errors)}`, {
      details: { errors: inputs.errors },
    })
  }
}
