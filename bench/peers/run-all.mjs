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
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 15 * 60 * 1000,
    })
    let out = ''
    let err = '' // the tail of the runner's stderr, which is also passed through, for the error message
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => {
      process.stderr.write(d)
      err = (err + d).slice(-2000)
    })
    child.on('error', (e) => resolve([{ peer, error: e.message }]))
    child.on('close', (status, signal) => {
      if (status !== 0) {
        const why = err.match(/^\w*Error\b.*$/m)?.[0] ?? err.trim().split('\n').pop()
        return resolve([{ peer, error: `runner exited with ${signal ?? `status ${status}`}: ${why}` }])
      }
      try {
        resolve([JSON.parse(out)].flat())
      } catch (e) {
        resolve([{ peer, error: `bad runner output: ${e.message}` }])
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
  const usePg = only.includes('dbos')
  if (usePg) {
    try {
      const args = [join(root, 'scripts', 'pg-start.sh'), '--durable']
      databaseUrl = execFileSync('bash', args, { env: pgEnv, stdio: ['ignore', 'pipe', 'inherit'] })
        .toString()
        .trim()
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
    try {
      if (usePg) execFileSync('bash', [join(root, 'scripts', 'pg-stop.sh')], { env: pgEnv, stdio: 'inherit' })
    } catch (err) {
      process.stderr.write(`peers: pg-stop failed: ${err.message}\n`)
    }
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
