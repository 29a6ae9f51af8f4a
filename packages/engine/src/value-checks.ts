import type { Json } from '@shiioo/core'
import type { ForeachBody, StepDefinition, WorkflowDefinition } from './schema.js'
import type { PathSegment, ValidationError } from './validation-errors.js'
import { formatPath } from './validation-errors.js'
import type { DepthRule } from './value-limits.js'
import { EVENT_DEPTH, INPUT_DEPTH, ITEM_OUTPUT_DEPTH, valueProblem } from './value-limits.js'

/**
 * The values a definition writes out (a transform's output, a tool's or child's input, the run's
 * output, input defaults) are recorded in events as rendered: one that nests deeper than an event
 * holds could never be recorded, so it is refused here, not when the run reaches it. (A template
 * may render deeper still; the engine fails that step when it does.)
 */
export function checkValueDepths(definition: WorkflowDefinition): ValidationError[] {
  const errors: ValidationError[] = []
  const check = (path: PathSegment[], value: Json | undefined, rule: DepthRule) => {
    if (value === undefined) return
    const problem = valueProblem(value, Number.MAX_SAFE_INTEGER, rule)
    if (problem)
      errors.push({ path: formatPath(path), code: 'limit_exceeded', message: `the value ${problem.message}` })
  }
  for (const [name, declaration] of Object.entries(definition.inputs)) {
    check(['inputs', name, 'default'], declaration.default, INPUT_DEPTH)
  }
  const visit = (path: PathSegment[], step: StepDefinition | ForeachBody, item: boolean) => {
    switch (step.kind) {
      case 'transform':
        check([...path, 'output'], step.output, item ? ITEM_OUTPUT_DEPTH : EVENT_DEPTH)
        return
      case 'tool':
      case 'subworkflow':
        check([...path, 'input'], step.input, EVENT_DEPTH)
        return
      case 'foreach':
        visit([...path, 'step'], step.step, true)
        return
      default:
        return
    }
  }
  definition.steps.forEach((step, i) => visit(['steps', i], step, false))
  check(['output'], definition.output, EVENT_DEPTH)
  return errors
}
