#!/usr/bin/env node
// Installs the peer engines listed in bench/peers/package.json (versions pinned by its package-lock.json) into bench/.peers (gitignored, outside the pnpm
// workspace, so the repo's own node_modules is never touched). Skips the install when neither that package.json nor
// the Node ABI changed since the last successful one (the digest is kept in bench/.peers/.digest).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const peersDir = process.env.SHIIOO_PEERS_DIR ?? join(here, '..', '.peers')

export async function install() {
  const manifest = readFileSync(join(here, 'package.json'))
  const lockFile = join(here, 'package-lock.json')
  const lock = existsSync(lockFile) ? readFileSync(lockFile) : Buffer.alloc(0)
  const digest = createHash('sha256')
    .update(manifest)
    .update(lock)
    .update(`node-abi-${process.versions.modules}`)
    .digest('hex')
  const digestFile = join(peersDir, '.digest')
  const installed = existsSync(digestFile) && readFileSync(digestFile, 'utf8').trim() === digest
  if (installed && existsSync(join(peersDir, 'node_modules'))) {
    process.stderr.write(`peers: up to date in ${peersDir}\n`)
    return { dir: peersDir, changed: false }
  }
  process.stderr.write(`peers: installing into ${peersDir} (npm install; about 2 min when better-sqlite3 compiles)\n`)
  const t0 = Date.now()
  mkdirSync(peersDir, { recursive: true })
  rmSync(digestFile, { force: true })
  copyFileSync(join(here, 'package.json'), join(peersDir, 'package.json'))
  // the committed lock pins every transitive version: `npm ci` installs exactly that
  if (lock.length > 0) copyFileSync(lockFile, join(peersDir, 'package-lock.json'))
  // better-sqlite3 compiles with node-gyp; point it at the local Node headers, as there is no internet to fetch them.
  const env = { ...process.env }
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr'
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const args = [lock.length > 0 ? 'ci' : 'install', '--no-audit', '--no-fund', '--prefix', peersDir]
  const r = spawnSync(npm, args, { cwd: peersDir, env, stdio: ['ignore', 2, 2] })
  if (r.status !== 0) throw new Error(`peers: npm install failed (exit ${r.status ?? r.signal ?? r.error?.message})`)
  writeFileSync(digestFile, `${digest}\n`)
  process.stderr.write(`peers: installed in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`)
  return { dir: peersDir, changed: true }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  install().catch((err) => {
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  })
}
