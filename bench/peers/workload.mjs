// The workloads every peer runner measures, and how peers are loaded from bench/.peers.
// A runner supplies `runOne(steps)`, which starts one linear workflow of `steps` durable no-op steps and resolves when
// the run is complete; each step must call `mark()` when it starts and return a tiny value such as { i }.
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { percentile } from '../lib.mjs'

export const peersDir = process.env.SHIIOO_PEERS_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '.peers')
const require = createRequire(join(peersDir, 'package.json'))

/** Imports a package as resolved from bench/.peers (never from the workspace). */
export async function importPeer(name) {
  return import(pathToFileURL(require.resolve(name)).href)
}

/** The installed version of a peer package. */
export function peerVersion(name) {
  const pkg = join(peersDir, 'node_modules', name, 'package.json')
  return JSON.parse(readFileSync(pkg, 'utf8')).version
}

let marks = null
/** Called by each step as it starts; records the time during the sequential workload. */
export function mark() {
  marks?.push(performance.now())
}

const round = (n, d = 3) => Math.round(n * 10 ** d) / 10 ** d

/**
 * sequential: `runs` runs one after another, each `steps` steps. A step's latency is the time from its start to the
 * next step's start (or, for the last step, to the run's completion), so it covers running the step and making its
 * result durable. concurrent: `runs` runs of `steps` steps started at once; wall clock until all are done, measured
 * `rounds` times (the median round is reported: one round takes tens of milliseconds, so a single one mostly measures
 * the machine's noise).
 *
 * Every engine first runs the same warm-up (`warmup` sequential runs and `warmupRounds` concurrent rounds): a
 * long-running server is measured, not the JIT's first minutes. On this machine Shiioo's own overhead per step
 * falls from about 0.2 ms in the first hundred runs to 0.1 ms after a few hundred as V8 optimizes the hot path, and
 * its concurrent rate keeps rising for a few thousand runs. The warm-up's first 50 runs and first concurrent round
 * are reported too (`coldP50Ms`, `coldStepsPerSec`).
 */
export async function measure(runOne, opts = {}) {
  const seq = { runs: 200, steps: 10, ...opts.sequential }
  const con = { runs: 100, steps: 3, rounds: 5, ...opts.concurrent }
  const warmup = opts.warmup ?? 300
  const warmupRounds = opts.warmupRounds ?? 20
  const sequential = async (runs, lat) => {
    for (let r = 0; r < runs; r++) {
      marks = []
      await runOne(seq.steps)
      marks.push(performance.now())
      if (marks.length !== seq.steps + 1) throw new Error(`expected ${seq.steps} steps, saw ${marks.length - 1}`)
      for (let k = 1; k < marks.length; k++) lat.push(marks[k] - marks[k - 1])
    }
    marks = null
    lat.sort((a, b) => a - b)
  }
  const concurrent = async () => {
    const t = performance.now()
    await Promise.all(Array.from({ length: con.runs }, () => runOne(con.steps)))
    return (performance.now() - t) / 1000
  }

  // warm-up; its first runs and first round are reported as the cold figures
  const cold = []
  await sequential(Math.min(50, warmup), cold)
  for (let r = 50; r < warmup; r++) await runOne(seq.steps)
  const coldRound = await concurrent()
  for (let r = 1; r < warmupRounds; r++) await concurrent()

  const lat = []
  const t0 = performance.now()
  await sequential(seq.runs, lat)
  const seqSec = (performance.now() - t0) / 1000

  const rounds = []
  for (let r = 0; r < con.rounds; r++) rounds.push(await concurrent())
  rounds.sort((a, b) => a - b)
  const conSec = rounds[Math.floor(rounds.length / 2)]

  return {
    sequential: {
      p50Ms: round(percentile(lat, 50)),
      p99Ms: round(percentile(lat, 99)),
      stepsPerSec: Math.round((seq.runs * seq.steps) / seqSec),
      runsPerSec: Math.round(seq.runs / seqSec),
      coldP50Ms: round(percentile(cold, 50)),
    },
    concurrent: {
      stepsPerSec: Math.round((con.runs * con.steps) / conSec),
      runsPerSec: Math.round(con.runs / conSec),
      rounds: con.rounds,
      coldStepsPerSec: Math.round((con.runs * con.steps) / coldRound),
    },
  }
}
