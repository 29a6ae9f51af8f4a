import type { ForeachBodySpec, StepKind, StepSpec, WorkflowDefinition, WorkflowSpec } from './schema.js'
import type { ValidateOptions } from './validate.js'
import { assertValidWorkflow } from './validate.js'

/** A step of one kind as written, without its `kind` (the builder adds it). */
export type StepFields<K extends StepKind> = Omit<Extract<StepSpec, { kind: K }>, 'kind'>
/** A foreach body of one kind as written, without its `kind`. */
export type BodyFields<K extends ForeachBodySpec['kind']> = Omit<Extract<ForeachBodySpec, { kind: K }>, 'kind'>

function builder<K extends StepKind>(kind: K) {
  return (fields: StepFields<K>) => ({ ...fields, kind }) as Extract<StepSpec, { kind: K }>
}

function bodyBuilder<K extends ForeachBodySpec['kind']>(kind: K) {
  return (fields: BodyFields<K>) => ({ ...fields, kind }) as Extract<ForeachBodySpec, { kind: K }>
}

/**
 * Typed step constructors for definitions written in TypeScript:
 * `step.agent({ id: 'summarize', needs: ['fetch'], role: 'analyst', prompt: '...' })`.
 */
export const step = Object.freeze({
  agent: builder('agent'),
  tool: builder('tool'),
  approval: builder('approval'),
  foreach: builder('foreach'),
  wait: builder('wait'),
  subworkflow: builder('subworkflow'),
  transform: builder('transform'),
})

/** Constructors for a foreach body (no id, no needs, not a foreach): `foreachBody.tool({ tool, input })`. */
export const foreachBody = Object.freeze({
  agent: bodyBuilder('agent'),
  tool: bodyBuilder('tool'),
  approval: bodyBuilder('approval'),
  wait: bodyBuilder('wait'),
  subworkflow: bodyBuilder('subworkflow'),
  transform: bodyBuilder('transform'),
})

/**
 * Validates a definition written in TypeScript with the same validator as YAML and JSON, and
 * returns it normalized. Throws INVALID_INPUT with every problem in `details.errors`.
 */
export function defineWorkflow(spec: WorkflowSpec, options: ValidateOptions = {}): WorkflowDefinition {
  return assertValidWorkflow(spec, options).workflow
}
