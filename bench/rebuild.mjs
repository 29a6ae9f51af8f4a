// Index rebuild throughput: generate runs on the filesystem log, then time `Projector.rebuild`
// into a fresh SQLite index, as `shiioo index rebuild` does (streams folded on a worker thread
// and on the main thread, the index written on the main thread). Five rebuilds in one process
// with one folder: the median is the warm figure, the first one is what a cold CLI run sees.
import { join } from 'node:path'
import {
  Projector,
  createFsStreamFolder,
  createIdFactory,
  newEvent,
  openFsEventLog,
} from '../packages/core/dist/index.js'
import { openSqliteIndex } from '../packages/store-sqlite/dist/index.js'
import { median, progress, removeDir, tempDir } from './lib.mjs'

const actor = { kind: 'system', id: 'bench' }
const hash = 'b'.repeat(64)

/**
 * Runs of `steps` steps: start, then started+completed per step, then the end: 2 + 2*steps events.
 * Written as the engine commits them: one commit per step (a step's completion with the next
 * step's start), so a run's file holds one gzip member per commit, as in production.
 */
export async function generate(dataDir, runs, steps) {
  const log = openFsEventLog({ dataDir })
  let t = Date.UTC(2026, 10, 1)
  const ids = createIdFactory(() => t)
  let events = 0
  const batch = []
  for (let r = 0; r < runs; r++) {
    t += 1000
    const run = ids.runId()
    const m = () => ({ id: ids.eventId(), at: new Date(t).toISOString(), actor })
    const ev = [newEvent('run.started', { workflow: { name: `wf-${r % 7}`, hash } }, m())]
    for (let s = 0; s < steps; s++) {
      ev.push(newEvent('step.started', { stepId: `s${s}`, attempt: 1, idempotencyKey: `${run}:s${s}:1` }, m()))
      ev.push(newEvent('step.completed', { stepId: `s${s}`, attempt: 1, output: { inline: { n: s } } }, m()))
    }
    ev.push(
      r % 10 === 0
        ? newEvent('run.failed', { error: { code: 'X', message: 'x', retryable: false } }, m())
        : newEvent('run.completed', {}, m()),
    )
    events += ev.length
    batch.push(
      (async () => {
        let version = 0
        for (let k = 0; k < ev.length; k += 2) {
          await log.append({ tenant: 'default', stream: run, expectedVersion: version, events: ev.slice(k, k + 2) })
          version += ev.slice(k, k + 2).length
        }
      })(),
    )
    if (batch.length >= 128) await Promise.all(batch.splice(0))
  }
  await Promise.all(batch)
  await log.close()
  return events
}

async function rebuildOnce(dataDir, i, folder) {
  const log = openFsEventLog({ dataDir })
  const index = openSqliteIndex({ path: join(dataDir, `index-${i}.sqlite`) })
  const projector = new Projector({ log, index })
  const t0 = performance.now()
  const r = await projector.rebuild({ folder })
  const secs = (performance.now() - t0) / 1000
  await index.close()
  await log.close()
  return { secs, events: r.events, runs: r.runs }
}

export async function run() {
  const dataDir = tempDir('rebuild')
  const runs = Number(process.env.BENCH_REBUILD_RUNS ?? 10_000)
  const steps = 9
  progress(`generating ${runs} runs of ${2 + 2 * steps} events`)
  const events = await generate(dataDir, runs, steps)
  progress('rebuilding the index (5 times on two threads, 5 times on one, alternating)')
  const t0 = performance.now()
  const folder = createFsStreamFolder({ dataDir })
  const startSecs = (performance.now() - t0) / 1000
  const results = []
  const single = []
  for (let i = 1; i <= 5; i++) {
    results.push(await rebuildOnce(dataDir, `w${i}`, folder))
    single.push(await rebuildOnce(dataDir, `s${i}`, undefined))
  }
  await folder.close()
  removeDir(dataDir)
  const rate = median(results.map((r) => r.events / r.secs))
  return {
    runs,
    events,
    rebuildSeconds: median(results.map((r) => r.secs)),
    eventsPerSecond: Math.round(rate),
    firstRebuildEventsPerSecond: Math.round(results[0].events / (results[0].secs + startSecs)),
    oneThreadEventsPerSecond: Math.round(median(single.map((r) => r.events / r.secs))),
    targetMet: rate >= 200_000,
  }
}
