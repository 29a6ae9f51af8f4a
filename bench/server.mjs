// The server under load (issue 14), the real `shiioo serve` process on loopback:
// - 100,000 indexed runs; autocannon at a fixed 1,000 requests/s (open model: latency counted from
//   when each request was due, so a stall is not hidden) against `GET /api/runs` (filtered, one page),
//   `GET /api/runs/:id` (random runs) and one GraphQL query: p50/p99 of each. Target: p99 <= 15 ms.
// - 1,000 graphql-ws subscribers to the tenant's run updates; runs started over REST: from the
//   start request until each subscriber has the run's first event, p50/p99 over every
//   (run, subscriber) pair. Target: p99 <= 100 ms.
// The load generator and the subscribers run in this process, the server in its own.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import autocannon from 'autocannon'
import { percentile, progress, removeDir, tempDir } from './lib.mjs'
import { generate } from './rebuild.mjs'

const root = join(import.meta.dirname, '..')
// the server's own WebSocket client libraries (dependencies of apps/server)
const fromServer = createRequire(join(root, 'apps', 'server', 'package.json'))
const { createClient } = await import(pathToFileURL(fromServer.resolve('graphql-ws')).href)
const { default: WebSocket } = await import(pathToFileURL(fromServer.resolve('ws')).href)
const BIN = join(root, 'apps', 'server', 'bin', 'shiioo.js')
const RUNS = Number(process.env.SHIIOO_BENCH_SERVER_RUNS ?? 100_000)
const RATE = 1_000
const SECONDS = Number(process.env.SHIIOO_BENCH_SERVER_SECONDS ?? 15)
const SUBSCRIBERS = Number(process.env.SHIIOO_BENCH_SERVER_SUBSCRIBERS ?? 1_000)
const STARTS = 40
const round = (n, d = 2) => Math.round(n * 10 ** d) / 10 ** d

const ECHO = JSON.stringify({
  workflow: { definition: { name: 'bench-echo', steps: [{ id: 'say', kind: 'tool', tool: 'core.echo' }] } },
})

/** This process's environment without its SHIIOO_* settings (the server refuses unknown ones), plus `extra`. */
function childEnv(extra = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHIIOO_')))
  return { ...env, ...extra }
}

function startServer(dataDir, token) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], {
    env: childEnv({ SHIIOO_ADMIN_TOKEN: token, SHIIOO_LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let seen = ''
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (s) => {
      seen += s
      const m = /listening on (http:\/\/\S+)/.exec(seen)
      if (m) resolve({ child, url: m[1] })
    })
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${seen}`)))
  })
}

async function waitReady(url) {
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${url}/api/health/ready`).catch(() => null)
    if (r?.ok) return
    await sleep(100)
  }
  throw new Error('the server did not become ready in 60 s')
}

function load(url, headers, requests) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: 32, overallRate: RATE, duration: SECONDS, headers, requests }, (err, result) =>
      err ? reject(err) : resolve(result),
    )
  })
}

/**
 * The CPU time (user + system, every thread) a process has used, in microseconds, from Linux's
 * /proc (null elsewhere). Latency on this shared machine moves with whatever else runs on it; the
 * server's CPU per request is what a change to the server moves.
 */
function cpuMicros(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100 // clock ticks of 10 ms
  } catch {
    return null
  }
}

/** p50/p99 in ms of an autocannon run, what it saw go wrong, and the server's CPU per request. */
async function measure(child, run) {
  const before = cpuMicros(child.pid)
  const result = await run()
  const after = cpuMicros(child.pid)
  return {
    p50: result.latency.p50,
    p99: result.latency.p99,
    rps: round(result.requests.average, 0),
    non2xx: result.non2xx + result.errors + result.timeouts,
    cpuUs: before === null || after === null ? null : Math.round((after - before) / result.requests.total),
  }
}

async function subscribers(url, token) {
  const wsUrl = url.replace(/^http/, 'ws') + '/api/graphql/ws'
  const firstSeen = new Map() // runId -> array of receive times
  const clients = []
  let ready = 0
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    })
    clients.push(client)
    const acked = new Promise((resolve) => client.on('connected', resolve))
    client.subscribe(
      { query: 'subscription { runUpdates(types: ["run.started"]) { runId event { seq } } }' },
      {
        next: (msg) => {
          const runId = msg.data?.runUpdates?.runId
          if (!runId) return
          const t = performance.now()
          const list = firstSeen.get(runId) ?? []
          list.push(t)
          firstSeen.set(runId, list)
        },
        error: (e) => process.stderr.write(`subscriber error: ${JSON.stringify(e).slice(0, 200)}\n`),
        complete: () => {},
      },
    )
    await acked
    ready++
    if (i % 50 === 49) await sleep(5)
  }
  return { clients, firstSeen, ready: () => ready }
}

export async function run() {
  const dataDir = tempDir('server')
  const token = randomBytes(32).toString('base64url')
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  progress(`generating ${RUNS.toLocaleString('en-US')} runs`)
  await generate(dataDir, RUNS, 1)
  progress('indexing them (`shiioo index rebuild`)')
  const rebuilt = spawnSync(process.execPath, [BIN, 'index', 'rebuild', '--data-dir', dataDir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    env: childEnv(),
  })
  if (rebuilt.status !== 0) throw new Error(`index rebuild failed with ${rebuilt.status}: ${rebuilt.stderr}`)
  const runIds = readdirSync(join(dataDir, 'events'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.jsonl.gz') && f.includes('run_'))
    .map((f) => /(run_\w+)\.jsonl\.gz$/.exec(f)?.[1])
    .filter(Boolean)
  const { child, url } = await startServer(dataDir, token)
  try {
    await waitReady(url)
    const out = { indexedRuns: RUNS }
    progress(`GET /api/runs?status=completed&workflow=wf-3&limit=50 at ${RATE}/s for ${SECONDS} s`)
    const list = await measure(child, () =>
      load(url, headers, [{ method: 'GET', path: '/api/runs?status=completed&workflow=wf-3&limit=50' }]),
    )
    progress(`GET /api/runs/:id (random of ${runIds.length}) at ${RATE}/s`)
    const one = await measure(child, () =>
      load(url, headers, [
        {
          method: 'GET',
          setupRequest: (req) => ({ ...req, path: `/api/runs/${runIds[Math.floor(Math.random() * runIds.length)]}` }),
        },
      ]),
    )
    progress(`POST /api/graphql (runs, one page) at ${RATE}/s`)
    const gql = await measure(child, () =>
      load(url, headers, [
        {
          method: 'POST',
          path: '/api/graphql',
          body: JSON.stringify({
            query: '{ runs(status: completed, workflow: "wf-3", first: 20) { items { runId status } nextCursor } }',
          }),
        },
      ]),
    )
    Object.assign(out, {
      loadAverage1m: round(loadavg()[0]),
      listP50Ms: list.p50,
      listP99Ms: list.p99,
      listRps: list.rps,
      listFailed: list.non2xx,
      listServerCpuUsPerRequest: list.cpuUs,
      getP50Ms: one.p50,
      getP99Ms: one.p99,
      getRps: one.rps,
      getFailed: one.non2xx,
      getServerCpuUsPerRequest: one.cpuUs,
      graphqlP50Ms: gql.p50,
      graphqlP99Ms: gql.p99,
      graphqlRps: gql.rps,
      graphqlFailed: gql.non2xx,
      graphqlServerCpuUsPerRequest: gql.cpuUs,
    })

    progress(`connecting ${SUBSCRIBERS} graphql-ws subscribers`)
    const subs = await subscribers(url, token)
    await sleep(500)
    progress(`starting ${STARTS} runs over REST, 100 ms apart`)
    const sent = new Map()
    for (let i = 0; i < STARTS; i++) {
      const t = performance.now()
      const res = await fetch(`${url}/api/runs`, { method: 'POST', headers, body: ECHO })
      const { runId } = await res.json()
      sent.set(runId, t)
      await sleep(100)
    }
    await sleep(2000)
    const lat = []
    let missing = 0
    for (const [runId, t] of sent) {
      const seen = subs.firstSeen.get(runId) ?? []
      missing += SUBSCRIBERS - seen.length
      for (const r of seen) lat.push(r - t)
    }
    lat.sort((a, b) => a - b)
    await Promise.all(subs.clients.map((c) => c.dispose()))
    Object.assign(out, {
      subscribers: subs.ready(),
      subscriptionP50Ms: round(percentile(lat, 50)),
      subscriptionP99Ms: round(percentile(lat, 99)),
      subscriptionMissed: missing,
    })
    return out
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    removeDir(dataDir)
  }
}
