import { describe, expect, it } from 'vitest'
import { ShiiooError } from '@shiioo/core'
import { defineWorkflow, foreachBody, hashWorkflow, parseWorkflow, step } from '../src/index.js'

describe('defineWorkflow', () => {
  const build = () =>
    defineWorkflow({
      name: 'typed-flow',
      inputs: { topic: { type: 'string', required: true } },
      steps: [
        step.tool({
          id: 'fetch',
          tool: 'http.get',
          input: { url: "${{ 'https://x/?q=' + inputs.topic }}" },
          timeout: '30s',
        }),
        step.agent({
          id: 'summarize',
          needs: ['fetch'],
          role: 'analyst',
          prompt: 'Summarize ${{ steps.fetch.output.body }}',
        }),
        step.approval({ id: 'approve', needs: ['summarize'], prompt: 'Publish?', timeout: '2d' }),
        step.foreach({
          id: 'each',
          needs: ['fetch'],
          items: 'steps.fetch.output.sources',
          maxParallel: 4,
          step: foreachBody.transform({ output: "${{ {'url': item.url} }}" }),
        }),
        step.wait({ id: 'pause', needs: ['approve'], duration: '1h' }),
        step.subworkflow({ id: 'child', needs: ['pause'], workflow: 'publish-summary', input: { text: 'x' } }),
        step.transform({ id: 'shape', needs: ['each', 'child'], output: '${{ size(steps.each.output) }}' }),
      ],
    })

  it('returns the normalized definition', () => {
    const workflow = build()
    expect(workflow.steps.map((s) => s.kind)).toEqual([
      'tool',
      'agent',
      'approval',
      'foreach',
      'wait',
      'subworkflow',
      'transform',
    ])
    expect(workflow.steps[0]!.timeout).toBe(30_000)
    expect(workflow.steps[2]!.timeout).toBe(2 * 86_400_000)
  })

  it('hashes like the same definition written in YAML', () => {
    const yaml = [
      'name: typed-flow',
      'inputs: { topic: { type: string, required: true } }',
      'steps:',
      `  - { id: fetch, kind: tool, tool: http.get, input: { url: "\${{ 'https://x/?q=' + inputs.topic }}" }, timeout: 30s }`,
      '  - { id: summarize, kind: agent, needs: [fetch], role: analyst, prompt: "Summarize ${{ steps.fetch.output.body }}" }',
      '  - { id: approve, kind: approval, needs: [summarize], prompt: "Publish?", timeout: 2d }',
      `  - { id: each, kind: foreach, needs: [fetch], items: steps.fetch.output.sources, maxParallel: 4, step: { kind: transform, output: "\${{ {'url': item.url} }}" } }`,
      '  - { id: pause, kind: wait, needs: [approve], duration: 1h }',
      '  - { id: child, kind: subworkflow, needs: [pause], workflow: publish-summary, input: { text: x } }',
      '  - { id: shape, kind: transform, needs: [each, child], output: "${{ size(steps.each.output) }}" }',
    ].join('\n')
    const parsed = parseWorkflow(yaml)
    expect(parsed.ok && parsed.hash).toBe(hashWorkflow(build()))
  })

  it('throws INVALID_INPUT with the errors for an invalid definition', () => {
    let thrown: unknown
    try {
      defineWorkflow({ name: 'bad', steps: [step.transform({ id: 'a', needs: ['a'], output: 1 })] })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ShiiooError)
    expect((thrown as ShiiooError).code).toBe('INVALID_INPUT')
    expect((thrown as ShiiooError).details.errors).toEqual([
      { path: 'steps[0].needs[0]', code: 'self_dependency', message: 'step "a" needs itself' },
    ])
  })

  it('types the step fields', () => {
    // @ts-expect-error an agent step has no tool field
    const wrong = step.agent({ id: 'a', role: 'analyst', prompt: 'p', tool: 'x' })
    expect(wrong.kind).toBe('agent')
    // @ts-expect-error a foreach body has no id
    foreachBody.transform({ id: 'x', output: 1 })
  })
})
