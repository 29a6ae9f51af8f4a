import { readFileSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { compileWorkflow, formatValidationErrors, parseWorkflow } from '../src/index.js'

const folder = new URL('../../../examples/workflows/', import.meta.url)
const files = readdirSync(folder)
  .filter((f) => /\.(ya?ml|json)$/.test(f))
  .sort()

describe('examples/workflows', () => {
  it('has the documented examples', () => {
    expect(files).toEqual([
      'approval-gate.yaml',
      'conditional-branch.yaml',
      'durable-timers.yaml',
      'fanout-foreach.yaml',
      'linear-agent-pipeline.yaml',
      'subworkflow-child.yaml',
      'subworkflow.yaml',
    ])
  })

  it.each(files)('%s validates and compiles', (file) => {
    const result = parseWorkflow(readFileSync(new URL(file, folder), 'utf8'))
    if (!result.ok) expect.fail(formatValidationErrors(result.errors))
    expect(`${result.workflow.name}.yaml`).toBe(file)
    expect(compileWorkflow(result.workflow).order).toHaveLength(result.workflow.steps.length)
  })

  it('the subworkflow example calls the child example', () => {
    const parent = parseWorkflow(readFileSync(new URL('subworkflow.yaml', folder), 'utf8'))
    const child = parseWorkflow(readFileSync(new URL('subworkflow-child.yaml', folder), 'utf8'))
    if (!parent.ok || !child.ok) return expect.fail('examples must validate')
    const call = parent.workflow.steps.find((s) => s.kind === 'subworkflow')
    expect(call?.kind === 'subworkflow' && call.workflow).toBe(child.workflow.name)
  })

  it('the durable-timers example waits between its steps', () => {
    const result = parseWorkflow(readFileSync(new URL('durable-timers.yaml', folder), 'utf8'))
    if (!result.ok) return expect.fail('example must validate')
    expect(result.workflow.steps.filter((s) => s.kind === 'wait').length).toBeGreaterThanOrEqual(3)
  })
})
