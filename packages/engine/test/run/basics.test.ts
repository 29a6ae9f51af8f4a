import { DEFAULT_TENANT } from '@shiioo/core'
import { afterEach, describe, expect, it } from 'vitest'
import type { Harness } from './harness.js'
import { openHarness, types, workflow } from './harness.js'

let h: Harness
afterEach(async () => h?.close())

describe('engine: running workflows', () => {
  it('runs a linear pipeline to completion, one event per transition, outputs feeding inputs', async () => {
    h = await openHarness()
    const def = workflow({
      name: 'linear',
      inputs: { topic: { type: 'string', required: true } },
      steps: [
        { id: 'a', kind: 'transform', output: { t: '${{ inputs.topic }}' } },
        { id: 'b', kind: 'agent', needs: ['a'], role: 'writer', prompt: 'Write about ${{ steps.a.output.t }}' },
        { id: 'c', kind: 'tool', needs: ['b'], tool: 'core.echo', input: { text: '${{ steps.b.output.text }}' } },
      ],
      output: '${{ steps.c.output.text }}',
    })
    const { runId } = await h.engine.start({ definition: def, input: { topic: 'durability' } })
    const end = await h.engine.wait(DEFAULT_TENANT, runId)
    expect(end.status).toBe('completed')
    expect(end.output).toEqual({ inline: '[stand-in writer] Write about durability' })
    const events = await h.events(runId)
    expect(types(events)).toEqual([
      'run.started',
      'step.started:a',
      'step.completed:a',
      'step.started:b',
      'step.completed:b',
      'step.started:c',
      'step.completed:c',
      'run.completed',
    ])
    const started = events.find((e) => e.type === 'step.started' && e.data.stepId === 'c')
    expect(started?.data).toMatchObject({ attempt: 1, idempotencyKey: `${runId}:c:1` })
  })
})
