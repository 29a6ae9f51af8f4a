import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FeedPosition, RunId, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, Projector, openFsEventLog } from '@shiioo/core'
import { EventFactory } from '@shiioo/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { openSqliteIndex } from '../src/index.js'

const T: TenantId = DEFAULT_TENANT
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A data dir with this process's log and another process's (a `shiioo run` in another terminal). */
function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'shiioo-follow-index-'))
  const here = openFsEventLog({ dataDir: dir, lockIdleMs: 20 })
  const there = openFsEventLog({ dataDir: dir, lockIdleMs: 20 })
  const indexPath = join(dir, 'index.sqlite')
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  cleanups.push(async () => {
    await here.close()
    await there.close()
  })
  return { here, there, indexPath }
}

/** Follows the feed into the index at `path` until stopped. */
function follow(log: ReturnType<typeof openFsEventLog>, path: string) {
  const index = openSqliteIndex({ path })
  const projector = new Projector({ log, index })
  const stop = new AbortController()
  const following = projector.follow(stop.signal)
  const close = async () => {
    stop.abort()
    await following.done
    await index.close()
  }
  cleanups.push(close)
  return { index, projector, caughtUp: following.caughtUp, close }
}

describe('the index follows the feed', () => {
  it("projects another process's appends as they land, saving its feed position with them", async () => {
    const { here, there, indexPath } = setup()
    const f = new EventFactory()
    const live = follow(here, indexPath)
    expect(await live.caughtUp).toEqual({ streams: 0, events: 0, runs: 0, failed: [] })
    const run = f.runId()
    await there.append({ tenant: T, stream: run, expectedVersion: 0, events: f.run(2, 'running') })
    // its commits reach the stream file and the feed now, not some milliseconds later
    await there.read({ tenant: T, stream: run })
    await there.feed.head()
    await live.projector.reached(await here.feed.head())
    expect(await live.index.getRun({ tenant: T, runId: run })).toMatchObject({ status: 'running', version: 5 })
    expect(await live.index.feedPosition()).toBe(await here.feed.head())
    await here.append({ tenant: T, stream: run, expectedVersion: 5, events: [f.runCompleted()] })
    await live.projector.idle()
    expect(await live.index.getRun({ tenant: T, runId: run })).toMatchObject({ status: 'completed', version: 6 })
  })

  it('continues after its saved position at a restart, reading only what came since', async () => {
    const { here, there, indexPath } = setup()
    const f = new EventFactory()
    const runs: RunId[] = []
    const first = follow(here, indexPath)
    await first.caughtUp
    for (let i = 0; i < 5; i++) {
      runs.push(f.runId())
      await here.append({ tenant: T, stream: runs[i]!, expectedVersion: 0, events: f.run(1) })
    }
    await first.projector.idle()
    await first.close()
    // while no index follows: another process finishes one more run
    const late = f.runId()
    await there.append({ tenant: T, stream: late, expectedVersion: 0, events: f.run(1) })
    await there.read({ tenant: T, stream: late })
    await there.feed.head()
    const again = follow(here, indexPath)
    // the live index saved no stream tokens: a scan would have read all six streams
    expect(await again.caughtUp).toEqual({ streams: 1, events: 4, runs: 1, failed: [] })
    expect((await again.index.listRuns({ tenant: T })).items.map((r) => r.runId).sort()).toEqual([...runs, late].sort())
  })

  it('scans the streams when its saved position is not in the feed, then follows on', async () => {
    const { here, indexPath } = setup()
    const f = new EventFactory()
    const runs = [f.runId(), f.runId(), f.runId()]
    for (const run of runs) await here.append({ tenant: T, stream: run, expectedVersion: 0, events: f.run(1) })
    const stale = openSqliteIndex({ path: indexPath })
    // from another data dir, or lost in a crash: well formed, but no commit of this feed
    await stale.save({ runs: [], checkpoints: [], feedPosition: '000000000040.00000001.12345678' as FeedPosition })
    await stale.close()
    const live = follow(here, indexPath)
    expect(await live.caughtUp).toMatchObject({ streams: 3, runs: 3, failed: [] })
    expect(await live.index.feedPosition()).toBe(await here.feed.head())
    const next = f.runId()
    await here.append({ tenant: T, stream: next, expectedVersion: 0, events: f.run(1) })
    await live.projector.idle()
    expect(await live.index.getRun({ tenant: T, runId: next })).toMatchObject({ status: 'completed' })
  })
})
