import { afterEach, describe, expect, it } from 'vitest'
import { ShiiooError } from '@shiioo/core'
import type { DataDirPort, IndexRebuildProgressView, VerifyProgressView } from '../src/index.js'
import { localCaller } from '../src/index.js'
import { testStacks } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const admin = localCaller('admin')
const echo = {
  definition: { name: 'echo', steps: [{ id: 'say', kind: 'tool', tool: 'core.echo', input: { a: 1 } }] },
}

/** A data dir holding one finished run, and a port that records what the data service asked of it. */
async function withRun(port: Partial<DataDirPort> = {}) {
  const calls: string[] = []
  const dataDir: DataDirPort = {
    assertExclusive: () => void calls.push('assertExclusive'),
    discardIndex: async () => void calls.push('discardIndex'),
    ...port,
  }
  const opened = stacks.open(await stacks.tempDir(), { dataDir })
  const { runId } = await opened.orchestrator.runs.start(admin, { source: echo })
  expect((await opened.orchestrator.runs.wait(admin, runId)).status).toBe('completed')
  await opened.projector.idle()
  return { ...opened, runId, calls }
}

describe('the data-dir service', () => {
  it('verifies every stream and blob, reporting progress', async () => {
    const { orchestrator: o } = await withRun()
    const progress: VerifyProgressView[] = []
    const report = await o.data.verify(admin, { onProgress: (p) => progress.push(p) })
    // the run, the workflow registry, the audit chain; the definition blob
    expect(report).toMatchObject({ ok: true, streams: 3, blobs: 1, problems: [], warnings: [] })
    expect(report.events).toBeGreaterThan(3)
    expect(progress).toEqual([
      { phase: 'streams', done: 1 },
      { phase: 'streams', done: 2 },
      { phase: 'streams', done: 3 },
    ])
  })

  it('rebuilds the index from the streams, with progress, after discarding the old one', async () => {
    const { orchestrator: o, index, runId, calls } = await withRun()
    expect((await o.runs.list(admin)).items).toHaveLength(1) // this process has caught up once
    await index.reset() // then the index lost everything: only the streams know the run now
    expect((await o.runs.list(admin)).items).toEqual([])
    const progress: IndexRebuildProgressView[] = []
    const result = await o.data.rebuildIndex(admin, { onProgress: (p) => progress.push(p) })
    expect(calls).toEqual(['assertExclusive', 'discardIndex'])
    expect(result).toMatchObject({ streams: 3, runs: 1, failed: [] })
    expect(result.seconds).toBeGreaterThanOrEqual(0)
    expect(progress.at(-1)).toMatchObject({ streams: 3, totalStreams: 3, events: result.events })
    expect((await o.runs.list(admin)).items.map((r) => [r.runId, r.status])).toEqual([[runId, 'completed']])
  })

  it('refuses to rebuild while another process has the data dir open, touching nothing', async () => {
    const busy = new ShiiooError('CONFLICT', 'the data dir is in use by process 1 on elsewhere')
    const {
      orchestrator: o,
      runId,
      calls,
    } = await withRun({
      assertExclusive: () => {
        throw busy
      },
    })
    await expect(o.data.rebuildIndex(admin)).rejects.toBe(busy)
    expect(calls).toEqual([])
    expect((await o.runs.list(admin)).items.map((r) => r.runId)).toEqual([runId])
  })

  it('refuses to rebuild in a process composed without the data-dir port', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    await expect(o.data.rebuildIndex(admin)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('cannot rebuild the index'),
    })
  })
})
