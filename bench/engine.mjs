// Engine overhead per durable no-op step and throughput, on the embedded store (filesystem event
// log + blobs), beside the disk's write+fsync floor measured in the same run. Every step is durable
// before its dependents start: a step's completion and the next step's start share one append.
// With SHIIOO_BENCH_PEERS=1 (or `npm run bench -- engine --peers`), the same workloads run on the
// peer engines installed by bench/peers (DBOS, Mastra, LangGraph.js) and ratios are reported.
import { DEFAULT_TENANT, FsBlobStore, openFsEventLog } from '../packages/core/dist/index.js'
import { Engine, assertValidWorkflow, toolInvoker } from '../packages/engine/dist/index.js'
import { fileCreateP50Us, progress, rawFsyncRate, removeDir, tempDir } from './lib.mjs'
import { mark, measure } from './peers/workload.mjs'

function linear(steps) {
  return assertValidWorkflow({
    name: `bench-${steps}`,
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `s${i}`,
      kind: 'tool',
      tool: 'bench.noop',
      ...(i > 0 ? { needs: [`s${i - 1}`] } : {}),
    })),
  }).workflow
}

export async function run() {
  const dir = tempDir('engine')
  progress('raw write+fsync floor')
  const raw = rawFsyncRate(dir)
  const createUs = fileCreateP50Us(dir)
  const log = openFsEventLog({ dataDir: dir })
  const blobs = new FsBlobStore({ dataDir: dir })
  const engine = new Engine({
    log,
    blobs,
    maxConcurrency: 256,
    tools: toolInvoker({ 'bench.noop': (r) => (mark(), { i: r.attempt }) }),
  })
  const defs = new Map([3, 10].map((n) => [n, linear(n)]))
  const runOne = async (steps) => {
    const { runId } = await engine.start({ definition: defs.get(steps) })
    const end = await engine.wait(DEFAULT_TENANT, runId)
    if (end.status !== 'completed') throw new Error(`bench run ${runId} ${end.status}`)
  }
  progress('shiioo: 200 sequential 10-step runs, 100 concurrent 3-step runs')
  const shiioo = await measure(runOne)
  await engine.close()
  // as `shiioo serve` and `shiioo run` drive runs: each under its lease, every append fenced by it
  progress('shiioo with run leases: the same workloads')
  const leased = new Engine({
    log,
    blobs,
    maxConcurrency: 256,
    leases: log.leases,
    tools: toolInvoker({ 'bench.noop': (r) => (mark(), { i: r.attempt }) }),
  })
  const withLeases = await measure(async (steps) => {
    const { runId } = await leased.start({ definition: defs.get(steps) })
    const end = await leased.wait(DEFAULT_TENANT, runId)
    if (end.status !== 'completed') throw new Error(`bench run ${runId} ${end.status}`)
  })
  await leased.close()
  await log.close()
  // the disk's floor moves within minutes on this VM: measure it again after the workload
  const rawAfter = rawFsyncRate(dir)
  removeDir(dir)
  const result = {
    rawFsyncPerSec: Math.round(raw.perSecond),
    rawFsyncP50Ms: raw.p50ms,
    rawFsyncP50MsAfter: rawAfter.p50ms,
    fileCreateP50Us: createUs,
    seqStepP50Ms: shiioo.sequential.p50Ms,
    seqStepP99Ms: shiioo.sequential.p99Ms,
    seqStepsPerSec: shiioo.sequential.stepsPerSec,
    seqRunsPerSec: shiioo.sequential.runsPerSec,
    seqColdStepP50Ms: shiioo.sequential.coldP50Ms,
    concStepsPerSec: shiioo.concurrent.stepsPerSec,
    concRunsPerSec: shiioo.concurrent.runsPerSec,
    concColdStepsPerSec: shiioo.concurrent.coldStepsPerSec,
    leasedSeqStepP50Ms: withLeases.sequential.p50Ms,
    leasedConcStepsPerSec: withLeases.concurrent.stepsPerSec,
  }
  if (process.env.SHIIOO_BENCH_PEERS === '1') {
    progress('peers (installs them into bench/.peers on first use)')
    const { run: runPeers } = await import('./peers/run-all.mjs')
    for (const p of await runPeers()) {
      if (p.error) {
        result[`${p.peer}Error`] = String(p.error).slice(0, 200)
        continue
      }
      const name = `${p.peer}${p.setting ? `(${p.setting})` : ''}`
      result[`${name} seqStepP50Ms`] = p.sequential.p50Ms
      result[`${name} concStepsPerSec`] = p.concurrent.stepsPerSec
      result[`${name} p50 ratio (peer/shiioo)`] = Math.round((p.sequential.p50Ms / shiioo.sequential.p50Ms) * 100) / 100
      result[`${name} throughput ratio (shiioo/peer)`] =
        Math.round((shiioo.concurrent.stepsPerSec / p.concurrent.stepsPerSec) * 100) / 100
    }
  }
  return result
}
