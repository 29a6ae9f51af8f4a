// Durable append throughput of the filesystem event log, beside the raw write+fsync rate of the
// same disk measured in the same run.
import { createIdFactory, newEvent, openFsEventLog } from '../packages/core/dist/index.js'
import { median, percentile, progress, rawFsyncRate, removeDir, tempDir } from './lib.mjs'

const ids = createIdFactory()
const actor = { kind: 'system', id: 'bench' }
const T = 'default'
const ev = (i) =>
  newEvent(
    'step.started',
    { stepId: 'step', attempt: 1, idempotencyKey: `k${i}` },
    { id: ids.eventId(), at: new Date().toISOString(), actor },
  )

async function oneStream(writers, total) {
  const dir = tempDir('one')
  const log = openFsEventLog({ dataDir: dir })
  const stream = ids.runId()
  const per = Math.ceil(total / writers)
  // events are built before the clock starts: this measures the log, not the client
  const prepared = Array.from({ length: writers }, () => Array.from({ length: per }, (_, i) => ev(i)))
  const t0 = performance.now()
  await Promise.all(
    prepared.map(async (events) => {
      for (const e of events) await log.append({ tenant: T, stream, expectedVersion: 'any', events: [e] })
    }),
  )
  const secs = (performance.now() - t0) / 1000
  await log.close()
  removeDir(dir)
  return (per * writers) / secs
}

async function manyStreams(streams, ms) {
  const dir = tempDir('many')
  const log = openFsEventLog({ dataDir: dir })
  const runs = Array.from({ length: streams }, () => ids.runId())
  // create the files first: directory fsyncs on creation are not what this measures
  await Promise.all(runs.map((stream) => log.append({ tenant: T, stream, expectedVersion: 'any', events: [ev(0)] })))
  let n = 0
  const prepared = runs.map(() => Array.from({ length: 2000 }, (_, i) => ev(i)))
  const t0 = performance.now()
  const end = t0 + ms
  await Promise.all(
    runs.map(async (stream, r) => {
      for (const e of prepared[r]) {
        if (performance.now() >= end) break
        await log.append({ tenant: T, stream, expectedVersion: 'any', events: [e] })
        n++
      }
    }),
  )
  const secs = (performance.now() - t0) / 1000
  await log.close()
  removeDir(dir)
  return n / secs
}

async function sequentialLatency(count) {
  const dir = tempDir('seq')
  const log = openFsEventLog({ dataDir: dir })
  const stream = ids.runId()
  const lat = []
  for (let i = 0; i < count; i++) {
    const t = performance.now()
    await log.append({ tenant: T, stream, expectedVersion: i, events: [ev(i)] })
    lat.push(performance.now() - t)
  }
  await log.close()
  removeDir(dir)
  lat.sort((a, b) => a - b)
  return { p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) }
}

export async function run() {
  const dir = tempDir('raw')
  progress('raw write+fdatasync rate of this disk')
  const raw = [rawFsyncRate(dir), rawFsyncRate(dir), rawFsyncRate(dir)]
  removeDir(dir)
  const rawRate = median(raw.map((r) => r.perSecond))
  progress('64 writers appending to one stream (group commit)')
  const one = median([await oneStream(64, 60_000), await oneStream(64, 60_000), await oneStream(64, 60_000)])
  progress('64 writers on 64 streams')
  const many = median([await manyStreams(64, 3000), await manyStreams(64, 3000), await manyStreams(64, 3000)])
  progress('one writer, sequential appends (latency)')
  const seq = await sequentialLatency(2000)
  return {
    rawFsyncPerSecond: Math.round(rawRate),
    rawFsyncP50ms: median(raw.map((r) => r.p50ms)),
    oneStream64Writers: Math.round(one),
    oneStreamTargetMet: one >= 50_000,
    manyStreams64: Math.round(many),
    manyStreamsRatio: many / rawRate,
    manyStreamsTargetMet: many >= 3 * rawRate,
    sequentialAppendP50ms: seq.p50ms,
    sequentialAppendP99ms: seq.p99ms,
  }
}
