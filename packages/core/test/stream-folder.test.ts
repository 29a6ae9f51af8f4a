import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FoldPipeline } from '../src/projection/fold-pipeline.js'
import type { FoldOutcome, FoldTask, StreamFolder, StreamId } from '../src/index.js'
import {
  createFsStreamFolder,
  createIdFactory,
  DEFAULT_TENANT,
  foldStreams,
  newEvent,
  openFsEventLog,
  streamPath,
} from '../src/index.js'

const T = DEFAULT_TENANT
const actor = { kind: 'system' as const, id: 'test' }

function task(i: number): FoldTask {
  return { tenant: T, stream: `run_${String(i).padStart(26, '0')}` as StreamId, token: `t${i}`, fromSeq: 1 }
}

/** An outcome that names the streams it folded (in its checkpoints), so the test can count them. */
function outcomeOf(tasks: readonly FoldTask[]): FoldOutcome {
  return {
    runs: [],
    llmCalls: [],
    projected: [],
    checkpoints: tasks.map((t) => ({ tenant: t.tenant, stream: t.stream, version: 1, token: t.token })),
    events: tasks.length,
    failed: [],
  }
}

function fakeRemote(delayMs: number, fail?: (call: number) => boolean): StreamFolder & { streams: number } {
  let calls = 0
  const remote = {
    streams: 0,
    async fold(tasks: readonly FoldTask[]) {
      const call = calls++
      await new Promise((r) => setTimeout(r, delayMs))
      if (fail?.(call)) throw new Error(`remote fold ${call} failed`)
      remote.streams += tasks.length
      return outcomeOf(tasks)
    },
    close: () => Promise.resolve(),
  }
  return remote
}

async function runPipeline(remote: StreamFolder, total: number, signal?: AbortSignal) {
  const saved: string[] = []
  let local = 0
  const pipeline = new FoldPipeline({
    remote,
    local: async (tasks) => {
      local += tasks.length
      return outcomeOf(tasks)
    },
    save: async (o, streams) => {
      expect(o.checkpoints.length).toBe(streams)
      saved.push(...o.checkpoints.map((c) => c.stream))
    },
    remoteChunk: 50,
    localChunk: 10,
    signal,
  })
  for (let i = 0; i < total; i += 30)
    await pipeline.push(Array.from({ length: Math.min(30, total - i) }, (_, k) => task(i + k)))
  await pipeline.finish()
  return { saved, local }
}

describe('FoldPipeline', () => {
  it('folds and saves every task exactly once, sharing the work between the remote and this thread', async () => {
    const remote = fakeRemote(5)
    const { saved, local } = await runPipeline(remote, 1000)
    expect(saved.length).toBe(1000)
    expect(new Set(saved)).toEqual(new Set(Array.from({ length: 1000 }, (_, i) => task(i).stream)))
    expect(remote.streams + local).toBe(1000)
    expect(remote.streams).toBeGreaterThan(0)
    expect(local).toBeGreaterThan(0) // the remote is slow here: this thread took its share
  })

  it('handles fewer tasks than one remote chunk, and none at all', async () => {
    expect((await runPipeline(fakeRemote(1), 7)).saved.length).toBe(7)
    expect((await runPipeline(fakeRemote(1), 0)).saved).toEqual([])
  })

  it('fails with the remote error when a remote fold fails', async () => {
    await expect(
      runPipeline(
        fakeRemote(1, (call) => call === 3),
        1000,
      ),
    ).rejects.toThrow('remote fold 3 failed')
  })

  it('stops when aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop now'))
    await expect(runPipeline(fakeRemote(1), 500, controller.signal)).rejects.toThrow('stop now')
  })
})

describe('createFsStreamFolder', () => {
  let dataDir: string
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'shiioo-folder-'))
  })
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }))

  async function writeRuns(count: number): Promise<FoldTask[]> {
    const log = openFsEventLog({ dataDir })
    const ids = createIdFactory()
    const at = new Date().toISOString()
    for (let r = 0; r < count; r++) {
      const run = ids.runId()
      const m = () => ({ id: ids.eventId(), at, actor })
      await log.append({
        tenant: T,
        stream: run,
        expectedVersion: 0,
        events: [
          newEvent('run.started', { workflow: { name: `wf-${r % 3}`, hash: 'c'.repeat(64) } }, m()),
          newEvent('step.started', { stepId: 'a', attempt: 1, idempotencyKey: `${run}:a:1` }, m()),
        ],
      })
      await log.append({
        tenant: T,
        stream: run,
        expectedVersion: 2,
        events: [
          newEvent('step.completed', { stepId: 'a', attempt: 1, output: { inline: r } }, m()),
          newEvent('run.completed', {}, m()),
        ],
      })
    }
    const tasks: FoldTask[] = []
    for await (const s of log.listStreams())
      tasks.push({ tenant: s.tenant, stream: s.stream, token: s.token, fromSeq: 1 })
    await log.close()
    return tasks
  }

  it('folds on its worker exactly what this thread folds, and names a damaged stream instead of failing', async () => {
    const tasks = await writeRuns(40)
    const damaged = tasks[17]!
    const path = streamPath(dataDir, damaged.tenant, damaged.stream)
    const bytes = readFileSync(path)
    bytes[20] = bytes[20]! ^ 0xff // inside the first record, with a whole record after it
    writeFileSync(path, bytes)

    const log = openFsEventLog({ dataDir })
    const folder = createFsStreamFolder({ dataDir })
    try {
      const here = await foldStreams(log, tasks)
      const there = await folder.fold(tasks)
      expect(there).toEqual(here)
      expect(there.runs.length).toBe(39)
      expect(there.failed).toEqual([{ tenant: T, stream: damaged.stream, message: expect.stringContaining('damaged') }])
    } finally {
      await folder.close()
      await log.close()
    }
  })

  it('refuses work once closed', async () => {
    const folder = createFsStreamFolder({ dataDir })
    await folder.close()
    await expect(folder.fold([task(1)])).rejects.toThrow('closed')
  })
})
