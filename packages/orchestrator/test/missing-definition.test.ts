import { chmod, rm, writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_TENANT, blobPath } from '@shiioo/core'
import { localCaller } from '../src/index.js'
import { eventOf, example, testStacks, waitsForApproval } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const alice = localCaller('alice')

/** Runs approval-gate up to its approval (or to its end), then removes its definition blob (or alters it). */
async function runWithoutDefinition(finish: boolean, damage = false) {
  const dir = await stacks.tempDir()
  const first = stacks.open(dir)
  const o = first.orchestrator
  const started = await o.runs.start(alice, { source: await example('approval-gate'), input: { version: 'v1' } })
  await eventOf(o, alice, started.runId, waitsForApproval)
  if (finish) {
    await o.runs.decide(alice, started.runId, { stepId: 'review', decision: 'approve' })
    expect((await o.runs.wait(alice, started.runId)).status).toBe('completed')
  }
  await first.close()
  const blob = blobPath(dir, DEFAULT_TENANT, started.workflow.hash)
  if (damage) {
    await chmod(blob, 0o644)
    await writeFile(blob, '{"name":"approval-gate","steps":[]}')
  } else await rm(blob)
  // a new process: nothing of the definition is cached
  return { ...stacks.open(dir), runId: started.runId, hash: started.workflow.hash }
}

describe('a run whose workflow definition is not stored', () => {
  it('is shown as its events hold it, saying the definition is missing', async () => {
    const { orchestrator: o, runId, hash } = await runWithoutDefinition(true)
    const run = await o.runs.get(alice, runId)
    expect(run).toMatchObject({
      runId,
      status: 'completed',
      workflow: { name: 'approval-gate', hash },
      definitionStored: false,
      definitionProblem: 'not-stored',
      stepsFrom: 'events',
      decisions: [{ stepId: 'review', decision: 'approve' }],
    })
    expect(run.steps.map((s) => [s.stepId, s.kind, s.status, s.attempts])).toEqual([
      ['draft', null, 'completed', 1],
      ['review', null, 'completed', 1],
      ['publish', null, 'completed', 1],
    ])
    expect((await o.runs.stateAt(alice, runId, 2)).steps.map((s) => s.stepId)).toEqual(['draft'])
  })

  it('refuses replay, fork and signals with a message naming the missing definition', async () => {
    const done = await runWithoutDefinition(true)
    const missing = `its workflow definition "approval-gate" (${done.hash}) is not stored in tenant default`
    await expect(done.orchestrator.runs.replay(alice, done.runId)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(new RegExp(`^cannot replay run ${done.runId}: ${escape(missing)}`)),
    })
    await expect(done.orchestrator.runs.fork(alice, done.runId, { fromStep: 'review' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(`cannot fork run ${done.runId}: ${missing}`),
    })
    const waiting = await runWithoutDefinition(false)
    await expect(
      waiting.orchestrator.runs.decide(alice, waiting.runId, { stepId: 'review', decision: 'approve' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(`cannot decide run ${waiting.runId}`),
    })
    // a run that does not exist is still just that
    await expect(done.orchestrator.runs.replay(alice, 'run_01ARZ3NDEKTSV4RRFFQ69G5FAV')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'no run run_01ARZ3NDEKTSV4RRFFQ69G5FAV in tenant default',
    })
  })
})

describe('a run whose workflow definition is stored but altered', () => {
  it('is shown from its events, saying the definition is damaged, and replay, fork and signals refuse naming it', async () => {
    const done = await runWithoutDefinition(true, true)
    expect(await done.orchestrator.runs.get(alice, done.runId)).toMatchObject({
      definitionStored: false,
      definitionProblem: 'damaged',
      stepsFrom: 'events',
    })
    const damaged = new RegExp(
      `^cannot replay run ${done.runId}: its workflow definition "approval-gate" is damaged in tenant default ` +
        `\\(blob ${done.hash} is damaged: its content hashes to [0-9a-f]{64}\\); the run can still be inspected ` +
        'from its events, but not continued, replayed or forked without it; `shiioo verify` lists every damaged blob$',
    )
    await expect(done.orchestrator.runs.replay(alice, done.runId)).rejects.toMatchObject({
      code: 'DATA_CORRUPTED',
      message: expect.stringMatching(damaged),
    })
    await expect(done.orchestrator.runs.fork(alice, done.runId, { fromStep: 'review' })).rejects.toMatchObject({
      code: 'DATA_CORRUPTED',
    })
    const waiting = await runWithoutDefinition(false, true)
    await expect(
      waiting.orchestrator.runs.decide(alice, waiting.runId, { stepId: 'review', decision: 'approve' }),
    ).rejects.toMatchObject({ code: 'DATA_CORRUPTED', message: expect.stringContaining('is damaged') })
  })
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
