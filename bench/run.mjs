#!/usr/bin/env node
// `npm run bench`: runs every benchmark in a child process (so each gets a fresh heap and a large
// libuv threadpool for parallel fsyncs, as the shiioo launcher sets), prints the results and
// appends them, with the machine and date, to docs/benchmarks.md.
import { spawnSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const only = args.filter((a) => !a.startsWith('--'))
if (args.includes('--peers')) process.env.SHIIOO_BENCH_PEERS = '1'
const suites = [
  { name: 'event-log', file: 'event-log.mjs', title: 'Durable append (filesystem event log)' },
  { name: 'rebuild', file: 'rebuild.mjs', title: 'Index rebuild (SQLite)' },
  { name: 'engine', file: 'engine.mjs', title: 'Engine: durable no-op steps (embedded store)' },
  { name: 'capacity', file: 'capacity.mjs', title: 'Capacity pool: goodput under rate limits, overhead per call' },
  {
    name: 'feed',
    file: 'feed.mjs',
    title: 'Live feed: waiting runs, signals from another process, 1,000 subscribers',
    flags: ['--expose-gc'],
  },
  {
    name: 'server',
    file: 'server.mjs',
    title: 'Server: REST and GraphQL at 1,000 requests/s on 100,000 indexed runs; 1,000 subscribers',
  },
].filter((s) => only.length === 0 || only.includes(s.name))

// every suite's data goes under one folder, removed at the end (see removeDir in lib.mjs)
const work = mkdtempSync(join(process.env.SHIIOO_BENCH_DIR ?? tmpdir(), 'shiioo-bench-run-'))
const cleanUp = () => rmSync(work, { recursive: true, force: true })
const results = {}
for (const s of suites) {
  process.stderr.write(`bench ${s.name}: ${s.title}\n`)
  const r = spawnSync(
    process.execPath,
    [
      ...(s.flags ?? []),
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(join(root, 'bench', s.file))}); process.stdout.write(JSON.stringify(await m.run()))`,
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '64',
        SHIIOO_BENCH_DIR: work,
        SHIIOO_BENCH_KEEP: '1',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    },
  )
  if (r.status !== 0) {
    process.stderr.write(`bench ${s.name} failed (exit ${r.status})\n`)
    cleanUp()
    process.exit(1)
  }
  results[s.name] = JSON.parse(r.stdout.toString())
  console.log(s.name, JSON.stringify(results[s.name], null, 2))
}

process.stderr.write("removing the benchmarks' data...\n")
cleanUp()

const cpu = cpus()[0]?.model ?? 'unknown CPU'
const machine = `${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`
const fmt = (n) =>
  typeof n === 'number' ? (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(3)) : String(n)
let md = `\n## Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC\n\nMachine: ${machine}.\n`
for (const s of suites) {
  md += `\n### ${s.title}\n\n| metric | value |\n|---|---|\n`
  for (const [k, v] of Object.entries(results[s.name])) md += `| ${k} | ${fmt(v)} |\n`
}
if (args.includes('--no-record')) process.exit(0)
const doc = join(root, 'docs', 'benchmarks.md')
try {
  readFileSync(doc)
} catch {
  appendFileSync(
    doc,
    '# Benchmarks\n\nEach `npm run bench` appends a section below. Targets and how to read them are in docs/performance.md.\n',
  )
}
appendFileSync(doc, md)
console.error(`results appended to docs/benchmarks.md`)
