// A/B of the engine's sequential workload between two builds of the repository (issue 11's "no
// regression over 10%"): each child process imports core and engine from one build's `dist`, runs
// `--runs` (300) sequential 10-step runs of no-op tool steps on a fresh data dir, and reports the
// p50 wall time per run over all but the first 50 (warm-up), and its process CPU time per run
// (over all runs, and over the measured runs only: "warm"), and its context switches per measured
// run (sleeps: the process waited for something; preempted: the CPU was taken from it).
//
//   node bench/ab-sequential.mjs A_DIR B_DIR [--rounds 3] [--runs 300] [--clean]
//       rounds of balanced pairs (A B B A, A B B A, ...: each build as often first as second),
//       one child process per run, then per build the median of its runs and B/A.
//   node bench/ab-sequential.mjs --one BUILD_DIR [--runs 300]
//       one child: prints one JSON line.
//
// e.g. `node bench/ab-sequential.mjs /work/wt/perf /work/wt/base --rounds 3` (both built).
// Data dirs go under SHIIOO_BENCH_DIR (default the OS temp dir) and are kept (the path is
// printed; `--clean` removes them after the last run): on ext4 without a journal, file creation
// is slower for minutes after a large delete (see docs/benchmarks.md), and each run creates a
// stream file per workflow run, so a delete would slow whichever runs come next, here or in the
// next A/B started within minutes. Each line also prints the p50 of creating an empty file in the
// child's data dir just before its workload (normally about 15 us; hundreds after a delete).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { fileCreateP50Us } from './lib.mjs'

const args = process.argv.slice(2)
const flag = (name, dflt) => {
  const i = args.indexOf(name)
  if (i < 0) return dflt
  const v = args.splice(i, 2)[1]
  return v
}
const runs = Number(flag('--runs', '300'))
const WARMUP = 50

const p50 = (a) => [...a].sort((x, y) => x - y)[a.length >> 1]

async function one(build) {
  const root = pathToFileURL(resolve(build)).href
  const { DEFAULT_TENANT, FsBlobStore, openFsEventLog } = await import(`${root}/packages/core/dist/index.js`)
  const { Engine, assertValidWorkflow, toolInvoker } = await import(`${root}/packages/engine/dist/index.js`)
  const dir = process.env.AB_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'shiioo-ab-'))
  const createUs = fileCreateP50Us(dir)
  const log = openFsEventLog({ dataDir: dir })
  const blobs = new FsBlobStore({ dataDir: dir })
  const engine = new Engine({
    log,
    blobs,
    maxConcurrency: 256,
    tools: toolInvoker({ 'b.noop': (r) => ({ i: r.attempt }) }),
  })
  const def = assertValidWorkflow({
    name: 'ab',
    steps: Array.from({ length: 10 }, (_, i) => ({
      id: `s${i}`,
      kind: 'tool',
      tool: 'b.noop',
      ...(i > 0 ? { needs: [`s${i - 1}`] } : {}),
    })),
  }).workflow
  const times = []
  const cpu0 = process.cpuUsage()
  let warm = cpu0
  let warmRu = process.resourceUsage()
  for (let i = 0; i < runs; i++) {
    if (i === WARMUP) {
      warm = process.cpuUsage()
      warmRu = process.resourceUsage()
    }
    const t0 = performance.now()
    const { runId } = await engine.start({ definition: def })
    const end = await engine.wait(DEFAULT_TENANT, runId)
    if (end.status !== 'completed') throw new Error(`run ${runId} ${end.status}`)
    if (i >= WARMUP) times.push(performance.now() - t0)
  }
  const cpu = process.cpuUsage(cpu0)
  const warmCpu = process.cpuUsage(warm)
  const ru = process.resourceUsage()
  await engine.close()
  await log.close()
  return {
    build: basename(resolve(build)),
    runP50Ms: Math.round(p50(times) * 1000) / 1000,
    cpuMsPerRun: Math.round(((cpu.user + cpu.system) / 1000 / runs) * 1000) / 1000,
    /** CPU per run over the measured runs only (after the warm-up, as the p50). */
    warmCpuMsPerRun: Math.round(((warmCpu.user + warmCpu.system) / 1000 / (runs - WARMUP)) * 1000) / 1000,
    fileCreateP50Us: createUs,
    /** Context switches per measured run: the process went to sleep (voluntary) or was preempted. */
    sleepsPerRun:
      Math.round(((ru.voluntaryContextSwitches - warmRu.voluntaryContextSwitches) / (runs - WARMUP)) * 10) / 10,
    preemptedPerRun:
      Math.round(((ru.involuntaryContextSwitches - warmRu.involuntaryContextSwitches) / (runs - WARMUP)) * 10) / 10,
  }
}

if (args[0] === '--one') {
  console.log(JSON.stringify(await one(args[1])))
} else {
  const [a, b] = args
  if (!a || !b) throw new Error('usage: node bench/ab-sequential.mjs A_DIR B_DIR [--rounds N] [--runs N]')
  const rounds = Number(flag('--rounds', '3'))
  const clean = args.includes('--clean')
  const parent = mkdtempSync(join(process.env.SHIIOO_BENCH_DIR ?? tmpdir(), 'shiioo-ab-'))
  const results = { [a]: [], [b]: [] }
  let k = 0
  try {
    for (let r = 0; r < rounds; r++) {
      for (const build of r % 2 === 0 ? [a, b, b, a] : [b, a, a, b]) {
        const dataDir = join(parent, String(k++))
        const child = spawnSync(process.execPath, [process.argv[1], '--one', build, '--runs', String(runs)], {
          env: { ...process.env, AB_DATA_DIR: dataDir, UV_THREADPOOL_SIZE: '64' },
          encoding: 'utf8',
        })
        if (child.status !== 0) throw new Error(`child for ${build} failed: ${child.stderr}`)
        const res = JSON.parse(child.stdout.trim().split('\n').at(-1))
        results[build].push(res)
        console.log(
          `${res.build.padEnd(12)} run p50 ${res.runP50Ms.toFixed(3)} ms  cpu ${res.cpuMsPerRun.toFixed(3)} ms/run (warm ${res.warmCpuMsPerRun.toFixed(3)})  sleeps ${res.sleepsPerRun}/run  preempted ${res.preemptedPerRun}/run  file create ${res.fileCreateP50Us} us`,
        )
      }
    }
  } finally {
    if (clean) rmSync(parent, { recursive: true, force: true })
    else console.log(`data kept in ${parent} (remove it when no benchmark runs for a few minutes)`)
  }
  const med = (build, key) => p50(results[build].map((r) => r[key]))
  for (const build of [a, b]) {
    console.log(
      `${basename(resolve(build)).padEnd(12)} median of ${results[build].length}: run p50 ${med(build, 'runP50Ms').toFixed(3)} ms, cpu ${med(build, 'cpuMsPerRun').toFixed(3)} ms/run (warm ${med(build, 'warmCpuMsPerRun').toFixed(3)})`,
    )
  }
  const ratio = med(a, 'runP50Ms') / med(b, 'runP50Ms')
  console.log(
    `${basename(resolve(a))}/${basename(resolve(b))} run p50 ratio ${ratio.toFixed(3)} (target: at most 1.10)`,
  )
}
