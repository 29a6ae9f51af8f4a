import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { workflowJsonSchema } from '../src/index.js'

describe('workflow JSON Schema', () => {
  it('matches the committed schema/workflow.schema.json (run `npm run schema` after changing the zod schema)', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../schema/workflow.schema.json', import.meta.url), 'utf8'),
    ) as unknown
    expect(committed).toEqual(workflowJsonSchema())
  })

  it('describes the fields for editors', () => {
    const schema = workflowJsonSchema() as {
      title: string
      properties: { steps: { items: { oneOf: { properties: Record<string, { description?: string }> }[] } } }
    }
    expect(schema.title).toBe('Shiioo workflow')
    const kinds = schema.properties.steps.items.oneOf
    expect(kinds).toHaveLength(7)
    for (const kind of kinds) {
      expect(kind.properties.id!.description).toBeTruthy()
      expect(kind.properties.needs!.description).toBeTruthy()
    }
  })
})
