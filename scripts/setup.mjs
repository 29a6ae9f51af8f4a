#!/usr/bin/env node
// Installs the workspace when needed, so `npm start` and `npm test` work on a fresh machine.
// Node builtins only: this runs before anything is installed.
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync, readdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const PNPM = 'pnpm@12.4.2'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const marker = join(root, 'node_modules', '.shiioo-setup')

function manifestsDigest() {
  const h = createHash('sha256')
  const files = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml']
  for (const group of ['packages', 'apps']) {
    const dir = join(root, group)
    if (!existsSync(dir)) continue
    for (const name of readdirSync(dir).sort()) files.push(join(group, name, 'package.json'))
  }
  for (const f of files) {
    const p = join(root, f)
    h.update(f + '\0')
    if (existsSync(p)) h.update(readFileSync(p))
  }
  return h.digest('hex')
}

const digest = manifestsDigest()
if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === digest) process.exit(0)

const env = { ...process.env }
// better-sqlite3 compiles from source; point node-gyp at the local Node headers when this
// machine has them (no download), and leave node-gyp's own discovery alone elsewhere.
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr'
const frozen = existsSync(join(root, 'pnpm-lock.yaml')) ? ['--frozen-lockfile'] : []
console.error(
  `shiioo setup: installing dependencies with ${PNPM} (first run compiles better-sqlite3, about 2 minutes)...`,
)
const r = spawnSync('npx', ['--yes', PNPM, 'install', ...frozen], { cwd: root, env, stdio: 'inherit' })
if (r.status !== 0) {
  console.error('shiioo setup: dependency install failed (see above). Fix the cause and run `npm run setup` again.')
  process.exit(r.status ?? 1)
}
writeFileSync(marker, digest + '\n')
console.error('shiioo setup: dependencies installed.')
