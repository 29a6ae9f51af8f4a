import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Clock, RunId, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, FsBlobStore, openFsEventLog } from '@shiioo/core'
import { FakeClock } from '@shiioo/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { Engine } from '../../src/index.js'
import type { Harness } from './harness.js'
import { loadExamples, openHarness, workflow } from './harness.js'

/**
 * Replay reproduces time from the record. Every example runs on a clock that behaves like a real
 * one (commits stamped as time goes by, timers firing a few milliseconds after they are due, as
 * an event loop's do), then its run, a fork of it and every golden log replay with no difference.
 */

const T: TenantId = DEFAULT_TENANT
const examples = loadExamples()
const inputs: Record<string, Record<string, unknown>> = {
  'linear-agent-pipeline': { topic: 'durable agents' },
  'conditional-branch': { subject: 'the release' },
  'approval-gate': { version: 'v1.4' },
  'subworkflow-child': { text: 'a short text' },
}

/**
 * Time runs on with the real clock (so commits made a few milliseconds apart are stamped apart),
 * and a timer fires after a hundredth of its delay, 1-3 ms late by the clock: what a busy event
 * loop does to the engine's timers, in a test that does not wait for them.
 */
class LateClock implements Clock {
  private readonly base = Date.UTC(2026, 10, 24, 12, 0, 0) - Date.now()
  private skipped = 0
  private fired = 0
  now(): number {
    return Date.now() + this.base + this.skipped
  }
  setTimer(at: number, fn: () => void): () => void {
    const timer = setTimeout(
      () => {
        const late = at + 1 + (this.fired++ % 3)
        if (this.now() < late) this.skipped += late - this.now()
        fn()
      },
      Math.max(0, (at - this.now()) / 100),
    )
    return () => clearTimeout(timer)
  }
}

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

/** Waits for a run's end, approving every approval as it waits (a person at the terminal). */
async function driveToEnd(engine: Engine, runId: RunId) {
  const done = engine.wait(T, runId)
  let finished = false
  void done.then(() => (finished = true))
  while (!finished) {
    const state = await engine.state(T, runId)
    for (const [stepId, s] of Object.entries(state.steps)) {
      if (s.status === 'waiting' && s.wait?.for === 'approval' && !state.decisions.some((d) => d.stepId === stepId)) {
        await engine.signal(T, runId, { kind: 'decision', stepId, decision: 'approve' }, { kind: 'user', id: 'ann' })
      }
    }
    await new Promise((r) => setTimeout(r, 5))
  }
  const end = await done
  expect({ status: end.status, error: end.error }).toEqual({ status: 'completed', error: null })
}

/** Runs an example to its end with the stand-in agent. */
async function runExample(name: string): Promise<RunId> {
  const engine = h!.engine
  for (const def of examples.values()) await engine.definitions.register(T, def)
  const { runId } = await engine.start({ definition: examples.get(name)!, input: inputs[name] ?? {} })
  await driveToEnd(engine, runId)
  return runId
}

describe('replay reproduces time from the record', () => {
  it.each([...examples.keys()])(
    'examples/workflows/%s.yaml and a fork of it replay with no difference',
    async (name) => {
      h = await openHarness({ clock: new LateClock() })
      const { engine } = h
      const runId = await runExample(name)
      expect((await engine.replay(T, runId)).mismatches).toEqual([])
      const steps = examples.get(name)!.steps
      const fork = await engine.fork(T, runId, { fromStep: steps.at(-1)!.id })
      await driveToEnd(engine, fork.runId)
      const replayed = await engine.replay(T, fork.runId)
      expect(replayed).toMatchObject({ ok: true, mismatches: [], replayedStatus: 'completed' })
    },
  )

  it('the timers of durable-timers.yaml fired late, as they do on a real clock', async () => {
    // the property the examples above rely on: a step after a timer started after the timer was due
    h = await openHarness({ clock: new LateClock() })
    const runId = await runExample('durable-timers')
    const events = await h.events(runId)
    const waiting = events.find((e) => e.type === 'step.waiting' && e.data.stepId === 'wait1')!
    const fired = events.find((e) => e.type === 'step.completed' && e.data.stepId === 'wait1')!
    const until = (waiting.data as { until: string }).until
    expect(Date.parse(fired.at)).toBeGreaterThan(Date.parse(until))
  })

  const goldens = [
    ['core run-v1', '../../../core/test/fixtures/golden/run-v1'],
    ['engine store', '../fixtures/golden/store'],
  ] as const
  it.each(goldens)('the golden log %s replays with no difference, and so does a fork of each run', async (_, path) => {
    const dir = mkdtempSync(join(tmpdir(), 'shiioo-golden-replay-'))
    cpSync(join(import.meta.dirname, path), dir, { recursive: true })
    const log = openFsEventLog({ dataDir: dir })
    const engine = new Engine({ log, blobs: new FsBlobStore({ dataDir: dir }) })
    try {
      const runs: RunId[] = []
      for await (const s of log.listStreams({ kind: 'run' })) runs.push(s.stream as RunId)
      expect(runs.length).toBeGreaterThan(0)
      for (const runId of runs) {
        expect(await engine.replay(T, runId)).toMatchObject({ ok: true, mismatches: [] })
        const steps = (await engine.state(T, runId)).steps
        const fork = await engine.fork(T, runId, { fromStep: Object.keys(steps).at(-1)! })
        await driveToEnd(engine, fork.runId)
        expect((await engine.replay(T, fork.runId)).mismatches).toEqual([])
      }
    } finally {
      await engine.close()
      await log.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a run cancelled while a timer was pending replays without the timer firing', async () => {
    const clock = new FakeClock()
    h = await openHarness({ clock })
    const def = workflow({
      name: 'cancelled-timer',
      steps: [
        { id: 'a', kind: 'transform', output: 1 },
        { id: 'nap', kind: 'wait', needs: ['a'], duration: '1h' },
        { id: 'b', kind: 'transform', needs: ['nap'], output: 2 },
      ],
    })
    const { runId } = await h.engine.start({ definition: def })
    await untilState(h, runId, (s) => s.steps.nap?.status === 'waiting')
    clock.advance(60_000)
    await h.engine.cancel(T, runId, 'not today', { kind: 'user', id: 'ops' })
    expect((await h.engine.wait(T, runId)).status).toBe('cancelled')
    expect(await h.engine.replay(T, runId)).toMatchObject({ ok: true, mismatches: [], replayedStatus: 'cancelled' })
  })

  it('a pause holds starts in the replay as it did in the run, and a timer started after the resume keeps its deadline', async () => {
    const clock = new FakeClock()
    h = await openHarness({ clock })
    const def = workflow({
      name: 'paused',
      steps: [
        { id: 'ask', kind: 'approval', prompt: 'go?' },
        { id: 'nap', kind: 'wait', needs: ['ask'], duration: '10s' },
        { id: 'b', kind: 'transform', needs: ['nap'], output: 2 },
      ],
    })
    const { runId } = await h.engine.start({ definition: def })
    const ops = { kind: 'user', id: 'ops' } as const
    await untilState(h, runId, (s) => s.steps.ask?.status === 'waiting')
    await h.engine.signal(T, runId, { kind: 'pause' }, ops)
    clock.advance(5_000)
    await h.engine.signal(T, runId, { kind: 'decision', stepId: 'ask', decision: 'approve' }, ops)
    clock.advance(7_000)
    await h.engine.signal(T, runId, { kind: 'resume' }, ops)
    await untilState(h, runId, (s) => s.steps.nap?.status === 'waiting')
    clock.advance(10_000)
    expect((await h.engine.wait(T, runId)).status).toBe('completed')
    const nap = (await h.events(runId)).find((e) => e.type === 'step.waiting' && e.data.stepId === 'nap')!
    expect(nap.at).toBe(new Date(Date.UTC(2026, 10, 24, 12, 0, 12)).toISOString())
    expect(await h.engine.replay(T, runId)).toMatchObject({ ok: true, mismatches: [] })
  })
})

async function untilState(
  harness: Harness,
  runId: RunId,
  ready: (s: Awaited<ReturnType<Engine['state']>>) => boolean,
): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (ready(await harness.engine.state(T, runId))) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`run ${runId} never reached the state the test waits for`)
}
