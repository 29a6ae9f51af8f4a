// The live feed (ADR 0008), against the targets:
// - 10,000 runs waiting on approvals or events: the process's RSS, and its CPU over 10 s of idling
//   (no run polls its stream; one feed subscription wakes them);
// - a signal sent from another process (a child on the same data dir, as `shiioo decide` would be)
//   until its waiting run's next step starts: p50/p95;
// - 1,000 subscribers in one process, each following every event: from the append call until a
//   subscriber has the event, p50/p99 over every (event, subscriber) pair.
// Needs --expose-gc (bench/run.mjs passes it) to measure RSS after a full collection.
import { spawn } from 'node:child_process'
import { setMaxListeners } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_TENANT, FsBlobStore, createIdFactory, newEvent, openFsEventLog } from '../packages/core/dist/index.js'
import { Engine, assertValidWorkflow, toolInvoker } from '../packages/engine/dist/index.js'
import { percentile, progress, removeDir, tempDir } from './lib.mjs'

const WAITING = Number(process.env.SHIIOO_BENCH_FEED_RUNS ?? 10_000)
const SIGNALS = 200
const SUBSCRIBERS = 1_000
const APPENDS = 300
const wallMs = () => performance.timeOrigin + performance.now()
const round = (n, d = 3) => Math.round(n * 10 ** d) / 10 ** d

const approval = assertValidWorkflow({
  name: 'bench-approval',
  steps: [
    { id: 'review', kind: 'approval', prompt: 'go?' },
    { id: 'after', kind: 'tool', tool: 'bench.after', needs: ['review'] },
  ],
}).workflow
const event = assertValidWorkflow({
  name: 'bench-event',
  steps: [
    { id: 'hold', kind: 'wait', event: { name: 'go' } },
    { id: 'after', kind: 'tool', tool: 'bench.after', needs: ['hold'] },
  ],
}).workflow

/** Starts the signaler child and resolves with its send times by run. */
function signalFromAnotherProcess(dir, runs) {
  const list = join(dir, 'signal-list.json')
  writeFileSync(list, JSON.stringify(runs))
  const child = spawn(process.execPath, [join(import.meta.dirname, 'feed-signaler.mjs'), dir, list, '25'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const sent = new Map()
  let buffered = ''
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop()
      for (const line of lines) {
        const [kind, runId, at] = line.split(' ')
        if (kind === 'sent') sent.set(runId, Number(at))
      }
    })
    child.on('exit', (code) => (code === 0 ? resolve(sent) : reject(new Error(`signaler exited with ${code}`))))
  })
}

async function waitingRuns() {
  const dir = tempDir('feed-waiting')
  const log = openFsEventLog({ dataDir: dir, lockIdleMs: 250 })
  const blobs = new FsBlobStore({ dataDir: dir })
  const woken = new Map()
  const engine = new Engine({
    log,
    blobs,
    tools: toolInvoker({ 'bench.after': (r) => (woken.set(r.runId, wallMs()), { ok: true }) }),
  })
  progress(`${WAITING.toLocaleString('en-US')} runs waiting on approvals and events`)
  const runs = []
  for (let i = 0; i < WAITING; i += 200) {
    const batch = Array.from({ length: Math.min(200, WAITING - i) }, (_, k) => (i + k) % 2 === 0)
    runs.push(
      ...(await Promise.all(
        batch.map(async (isApproval) => {
          const { runId } = await engine.start({ definition: isApproval ? approval : event })
          return { runId, kind: isApproval ? 'approval' : 'event' }
        }),
      )),
    )
  }
  // every run has committed its wait; let the stream locks go idle (another process may then append)
  while (engine.active < WAITING) await sleep(50)
  await sleep(1000)
  globalThis.gc?.()
  const rssMb = process.memoryUsage().rss / 2 ** 20
  const heapMb = process.memoryUsage().heapUsed / 2 ** 20
  progress('idle for 10 s')
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await sleep(10_000)
  const cpu = process.cpuUsage(cpu0)
  const idleCpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100

  progress(`${SIGNALS} signals from another process, 25 ms apart`)
  const chosen = runs.filter((_, i) => i % Math.floor(WAITING / SIGNALS) === 0).slice(0, SIGNALS)
  const sent = await signalFromAnotherProcess(dir, chosen)
  const deadline = performance.now() + 30_000
  while (chosen.some((r) => !woken.has(r.runId)) && performance.now() < deadline) await sleep(20)
  const lat = chosen.filter((r) => woken.has(r.runId)).map((r) => woken.get(r.runId) - sent.get(r.runId))
  lat.sort((a, b) => a - b)
  await engine.close()
  await log.close()
  removeDir(dir)
  return {
    waitingRuns: WAITING,
    waitingRssMb: Math.round(rssMb),
    waitingHeapMb: Math.round(heapMb),
    idleCpuPct: round(idleCpuPct, 2),
    signalsSent: chosen.length,
    signalsWoken: lat.length,
    signalP50Ms: round(percentile(lat, 50), 1),
    signalP95Ms: round(percentile(lat, 95), 1),
    signalMaxMs: round(lat.at(-1) ?? 0, 1),
  }
}

async function subscribers() {
  const dir = tempDir('feed-subscribers')
  const log = openFsEventLog({ dataDir: dir })
  const ids = createIdFactory()
  const actor = { kind: 'system', id: 'bench' }
  const appendedAt = new Map()
  const lat = new Float64Array(APPENDS * SUBSCRIBERS)
  let n = 0
  const stop = new AbortController()
  setMaxListeners(SUBSCRIBERS + 10, stop.signal) // one listener per subscription, on purpose
  progress(`${SUBSCRIBERS} subscribers to every event, ${APPENDS} appends`)
  const done = Array.from({ length: SUBSCRIBERS }, async () => {
    let seen = 0
    for await (const batch of log.feed.subscribe({ after: 'now' }, stop.signal)) {
      const now = performance.now()
      for (const e of batch) lat[n++] = now - appendedAt.get(e.event.id)
      if ((seen += batch.length) >= APPENDS) return
    }
  })
  const streams = Array.from({ length: 20 }, () => ids.runId())
  for (let i = 0; i < APPENDS; i++) {
    const e = newEvent(
      'step.started',
      { stepId: `s${i}`, attempt: 1, idempotencyKey: `k${i}` },
      { id: ids.eventId(), at: new Date(), actor },
    )
    appendedAt.set(e.id, performance.now())
    await log.append({
      tenant: DEFAULT_TENANT,
      stream: streams[i % streams.length],
      expectedVersion: 'any',
      events: [e],
    })
    await sleep(10) // a steady rate (about 100 appends/s), not a burst
  }
  await Promise.all(done)
  stop.abort()
  await log.close()
  removeDir(dir)
  const sorted = Array.from(lat.subarray(0, n)).sort((a, b) => a - b)
  return {
    subscribers: SUBSCRIBERS,
    deliveries: n,
    deliveryP50Ms: round(percentile(sorted, 50), 2),
    deliveryP99Ms: round(percentile(sorted, 99), 2),
  }
}

export async function run() {
  const waiting = await waitingRuns()
  const delivery = await subscribers()
  return {
    ...waiting,
    waitingTargetMet: waiting.waitingRssMb <= 300 && waiting.idleCpuPct < 1,
    signalTargetMet: waiting.signalsWoken === waiting.signalsSent && waiting.signalP95Ms <= 50,
    ...delivery,
    deliveryTargetMet: delivery.deliveries === APPENDS * SUBSCRIBERS && delivery.deliveryP99Ms <= 20,
  }
}
