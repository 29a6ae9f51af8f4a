import type { TenantId } from '@shiioo/core'
import { DEFAULT_TENANT } from '@shiioo/core'
import { FakeClock } from '@shiioo/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import type { Harness } from './harness.js'
import { loadExamples, openHarness } from './harness.js'

const T: TenantId = DEFAULT_TENANT
const examples = loadExamples()

let h: Harness
afterEach(async () => h?.close())

/** Runs an example with no API key: the stand-in agent, approvals approved, the clock moved past timers. */
async function runExample(name: string, clock: FakeClock, input: Record<string, unknown> = {}) {
  for (const def of examples.values()) await h.engine.definitions.register(T, def)
  const { runId } = await h.engine.start({ definition: examples.get(name)!, input })
  const done = h.engine.wait(T, runId)
  let finished = false
  void done.then(() => (finished = true))
  for (let i = 0; i < 400 && !finished; i++) {
    const state = await h.engine.state(T, runId)
    for (const [stepId, s] of Object.entries(state.steps)) {
      if (s.status === 'waiting' && s.wait?.for === 'approval' && !state.decisions.some((d) => d.stepId === stepId)) {
        await h.engine.signal(
          T,
          runId,
          { kind: 'decision', stepId, decision: 'approve' },
          { kind: 'user', id: 'tester' },
        )
      }
    }
    clock.advance(500)
    await new Promise((r) => setTimeout(r, 5))
  }
  return { runId: runId, end: await done }
}

describe('examples/workflows run with no API key', () => {
  it.each([
    ['linear-agent-pipeline', { topic: 'durable agents' }],
    ['conditional-branch', { subject: 'the release' }],
    ['fanout-foreach', {}],
    ['approval-gate', { version: 'v1.4' }],
    ['subworkflow', {}],
    ['durable-timers', {}],
  ] as const)('%s completes', async (name, input) => {
    const clock = new FakeClock()
    h = await openHarness({ clock })
    const { end } = await runExample(name, clock, input)
    expect({ status: end.status, error: end.error }).toEqual({ status: 'completed', error: null })
    expect(end.output).not.toBeNull()
    expect((await h.engine.replay(T, end.runId)).mismatches).toEqual([])
  })
})
