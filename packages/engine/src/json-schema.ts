import { z } from 'zod'
import { workflowSchema } from './schema.js'

/**
 * The JSON Schema (draft 2020-12) of the definition format as authors write it, generated from the
 * zod schema, for editors: point YAML files at it with
 * `# yaml-language-server: $schema=<path>/workflow.schema.json`, or JSON files with `"$schema"`.
 * It checks shapes only; cycles, references and expressions are checked by validateWorkflow.
 */
export function workflowJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(workflowSchema, { io: 'input', target: 'draft-2020-12' })
  // zod names shared definitions __schema0...; give the one recursive definition (JSON values) a readable name.
  const text = JSON.stringify(generated).replaceAll('__schema0', 'JsonValue')
  return JSON.parse(text) as Record<string, unknown>
}
