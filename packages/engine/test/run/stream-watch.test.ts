import type { RunId, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, FsBlobStore, openFsEventLog } from '@shiioo/core'
import { afterEach, describe, expect, it } from 'vitest'
import { Engine } from '../../src/index.js'
import type { Harness } from './harness.js'
import { openHarness, types, workflow } from './harness.js'

const T: TenantId = DEFAULT_TENANT
let h: Harness
const others: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const o of others.splice(0).reverse()) await o.close()
  await h?.close()
})

async function waitingFor(runId: RunId, type: string): Promise<void> {
  while (!types(await h.events(runId)).includes(type)) await new Promise((r) => setTimeout(r, 5))
}

/** Another process on the same data dir, as `shiioo decide` or `shiioo signal` would be. */
function otherProcess(dir: string): Engine {
  const log = openFsEventLog({ dataDir: dir, lockIdleMs: 50 })
  const engine = new Engine({ log, blobs: new FsBlobStore({ dataDir: dir }) })
  others.push(log, engine)
  return engine
}

const gate = workflow({
  name: 'gate',
  steps: [
    { id: 'review', kind: 'approval', prompt: 'Ship it?' },
    { id: 'deployed', kind: 'wait', needs: ['review'], event: { name: 'deploy.done' } },
  ],
  output: '${{ steps.deployed.output.payload.ok }}',
})

describe('engine: runs woken by the feed, not by polling', () => {
  it('wakes a run waiting on an approval, then on an event, when another process appends them', async () => {
    // the driving process hands an idle stream's lock back soon, as the server does
    h = await openHarness({ lockIdleMs: 50 })
    const { runId } = await h.engine.start({ definition: gate })
    await waitingFor(runId, 'step.waiting:review')
    const other = otherProcess(h.dir)
    await other.signal(
      T,
      runId,
      { kind: 'decision', stepId: 'review', decision: 'approve' },
      { kind: 'user', id: 'ann' },
    )
    // the driving engine sees the decision through the feed and moves on to the event wait
    await waitingFor(runId, 'step.waiting:deployed')
    await other.signal(
      T,
      runId,
      { kind: 'event', name: 'deploy.done', payload: { ok: true } },
      { kind: 'user', id: 'ann' },
    )
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('completed')
    expect(end.output).toEqual({ inline: true })
    expect(types(await h.events(runId)).filter((t) => t === 'run.completed')).toHaveLength(1)
  })

  it('follows a run another process drives through the feed: its end arrives without waiting to take it over', async () => {
    h = await openHarness()
    const log = openFsEventLog({ dataDir: h.dir })
    const [leases, followerLeases] = [log.leases, h.log.leases]
    const driver = new Engine({ log, blobs: new FsBlobStore({ dataDir: h.dir }), leases })
    // takeovers are checked once a minute here: only the feed can end this wait within the test's time
    const follower = new Engine({ log: h.log, blobs: h.blobs, leases: followerLeases, takeoverCheckMs: 60_000 })
    others.push(log, driver, follower)
    const { runId } = await driver.start({ definition: gate })
    await waitingFor(runId, 'step.waiting:review')
    expect(await follower.drivenElsewhere(T, runId)).toMatchObject({ pid: process.pid })
    const followed = follower.wait(T, runId)
    await driver.signal(
      T,
      runId,
      { kind: 'decision', stepId: 'review', decision: 'reject' },
      { kind: 'user', id: 'bo' },
    )
    expect((await followed).status).toBe('failed')
  })
})
