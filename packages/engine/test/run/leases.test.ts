import type { TenantId } from '@shiioo/core'
import { DEFAULT_TENANT } from '@shiioo/core'
import { afterEach, describe, expect, it } from 'vitest'
import { Engine, toolInvoker } from '../../src/index.js'
import type { Harness } from './harness.js'
import { openHarness, types, workflow } from './harness.js'

const T: TenantId = DEFAULT_TENANT
let h: Harness
let other: Engine | null = null
afterEach(async () => {
  await other?.close()
  other = null
  await h?.close()
})

const def = workflow({
  name: 'owned',
  steps: [
    { id: 'slow', kind: 'tool', tool: 'test.gate' },
    { id: 'after', kind: 'transform', needs: ['slow'], output: '${{ steps.slow.output }}' },
  ],
  output: '${{ steps.after.output }}',
})

describe('engine: one driver per run across engines (leases)', () => {
  it('leaves a run to the engine that holds its lease, follows it to the end, and takes over when that engine stops', async () => {
    let open!: () => void
    const gate = new Promise<void>((r) => (open = r))
    h = await openHarness({
      tools: toolInvoker({ 'test.gate': async () => (await gate, { by: 'first' }) }),
    })
    const leases = h.log.leases
    const owner = new Engine({
      log: h.log,
      blobs: h.blobs,
      leases,
      takeoverCheckMs: 10,
      tools: toolInvoker({ 'test.gate': async () => (await gate, { by: 'first' }) }),
    })
    let secondCalls = 0
    other = new Engine({
      log: h.log,
      blobs: h.blobs,
      leases: h.log.leases,
      takeoverCheckMs: 10,
      tools: toolInvoker({ 'test.gate': () => (secondCalls++, { by: 'second' }) }),
    })

    const one = await owner.start({ definition: def })
    expect(await other.drivenElsewhere(T, one.runId)).toMatchObject({ pid: process.pid })
    const followed = other.wait(T, one.runId)
    open()
    expect((await followed).output).toEqual({ inline: { by: 'first' } })
    expect(secondCalls).toBe(0)

    // a second run whose owner stops mid-step: the follower takes it over and finishes it
    const blocked = new Engine({
      log: h.log,
      blobs: h.blobs,
      leases,
      takeoverCheckMs: 10,
      tools: toolInvoker({ 'test.gate': () => new Promise(() => undefined) }),
    })
    const two = await blocked.start({ definition: def })
    while (!(await h.events(two.runId)).some((e) => e.type === 'step.started'))
      await new Promise((r) => setTimeout(r, 5))
    const takeover = other.wait(T, two.runId)
    await new Promise((r) => setTimeout(r, 30))
    expect(secondCalls).toBe(0)
    await blocked.close()
    await owner.close()
    expect((await takeover).output).toEqual({ inline: { by: 'second' } })
    expect(secondCalls).toBe(1)
    expect(types(await h.events(two.runId)).filter((t) => t === 'step.started:slow')).toHaveLength(1)
  })
})
