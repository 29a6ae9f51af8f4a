import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunId } from '@shiioo/core'
import { DEFAULT_TENANT, FsBlobStore, foldRun, openFsEventLog } from '@shiioo/core'
import { afterAll, describe, expect, it } from 'vitest'
import { Engine, foldRunState } from '../../src/index.js'

// A data dir written by this engine on 2026-11-24 (fixtures/golden/store, kept byte for byte): a run
// with a retried tool, a foreach of agent calls, a false `when`, a durable timer and an approval.
// It must keep folding and replaying to the same result; a schema change adds an upcaster instead.
const RUN = 'run_01M86CH3M08SHMJSYYQ94XWJPE' as RunId
const dir = mkdtempSync(join(tmpdir(), 'shiioo-golden-'))
cpSync(join(import.meta.dirname, '..', 'fixtures', 'golden', 'store'), dir, { recursive: true })
const log = openFsEventLog({ dataDir: dir })
const blobs = new FsBlobStore({ dataDir: dir })
const engine = new Engine({ log, blobs })
afterAll(async () => {
  await engine.close()
  await log.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('golden event log (engine v1)', () => {
  it('folds to the recorded run', async () => {
    const events = await log.read({ tenant: DEFAULT_TENANT, stream: RUN })
    expect(events).toHaveLength(22)
    const state = foldRunState(events)
    expect(state.status).toBe('completed')
    expect(state.idempotencyKey).toBe('golden-1')
    expect(state.steps.fetch).toMatchObject({ status: 'completed', attempt: 2 })
    expect(state.steps.audit).toMatchObject({ status: 'skipped', skipReason: 'when `inputs.audit` is false' })
    expect(state.steps.outline!.items?.map((u) => u.status)).toEqual(['completed', 'completed'])
    expect(state.steps.cooldown!.wait).toMatchObject({ for: 'timer', until: '2026-11-24T09:01:02.000Z' })
    expect(state.decisions).toMatchObject([
      { stepId: 'review', decision: 'approve', comment: 'ship it', actor: { id: 'ann' } },
    ])
    expect(state.output).toEqual({
      inline: {
        approvedBy: 'ann',
        sections: [
          '[stand-in writer] Write the intro section from results for durable agents',
          '[stand-in writer] Write the body section from results for durable agents',
        ],
      },
    })
    expect(foldRun(events)).toMatchObject({ status: 'completed', version: 22, endedAt: '2026-11-24T09:01:07.000Z' })
  })

  it('replays with the current scheduler to the same decisions', async () => {
    const report = await engine.replay(DEFAULT_TENANT, RUN)
    expect(report).toMatchObject({ ok: true, mismatches: [], status: 'completed', replayedStatus: 'completed' })
  })
})
