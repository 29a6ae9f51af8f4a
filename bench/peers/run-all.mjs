#!/usr/bin/env node
// Runs the peer engines' workloads: installs them (bench/peers/install.mjs), starts a durable throwaway PostgreSQL for
// DBOS, runs each peer in its own Node process (separate heaps; a failing peer yields { peer, error }) and returns the
// results. `node bench/peers/run-all.mjs [peer...]` prints them as JSON.
import { execFileSync, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { install } from './install.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const peers = ['dbos', 'mastra', 'langgraph']
// Its own cluster and port, so a test cluster on the default PGROOT/PGPORT is never wiped.
const pgEnv = {
  ...process.env,
  PGROOT: process.env.SHIIOO_BENCH_PGROOT ?? '/tmp/shiioo-bench-pg',
  PGPORT: process.env.SHIIOO_BENCH_PGPORT ?? '54339',
}

function runPeer(peer, env) {
  const code = `const m = await import(${JSON.stringify(join(here, `${peer}.mjs`))})
process.stdout.write(JSON.stringify(await m.run()))`
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--no-deprecation', '--input-type=module', '-e', code], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 15 * 60 * 1000,
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', (err) => resolve([{ peer, error: err.message }]))
    child.on('close', (status, signal) => {
      if (status !== 0) return resolve([{ peer, error: `runner exited with ${signal ?? `status ${status}`}` }])
      try {
        resolve([JSON.parse(out)].flat())
      } catch (err) {
        resolve([{ peer, error: `bad runner output: ${err.message}` }])
      }
    })
  })
}

export async function run(only = peers) {
  try {
    await install()
  } catch (err) {
    return only.map((peer) => ({ peer, error: `install failed: ${err.message}` }))
  }
  let databaseUrl = null
  let pgError = null
  if (only.includes('dbos')) {
    try {
      const args = [join(root, 'scripts', 'pg-start.sh'), '--durable']
      databaseUrl = execFileSync('bash', args, { env: pgEnv, stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim()
    } catch (err) {
      pgError = `postgres did not start: ${err.message}`
    }
  }
  const results = []
  try {
    for (const peer of only) {
      process.stderr.write(`peers: running ${peer}\n`)
      if (peer === 'dbos' && pgError) results.push({ peer, error: pgError })
      else results.push(...(await runPeer(peer, { ...process.env, ...(databaseUrl && { DATABASE_URL: databaseUrl }) })))
    }
  } finally {
    if (databaseUrl) execFileSync('bash', [join(root, 'scripts', 'pg-stop.sh')], { env: pgEnv, stdio: 'inherit' })
  }
  return results
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const only = process.argv.slice(2)
  const unknown = only.filter((p) => !peers.includes(p))
  if (unknown.length) {
    process.stderr.write(`unknown peer(s): ${unknown.join(', ')} (known: ${peers.join(', ')})\n`)
    process.exit(2)
  }
  console.log(JSON.stringify(await run(only.length ? only : peers), null, 2))
}
