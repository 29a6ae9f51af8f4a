#!/usr/bin/env node
// Type-checks every package including its tests (the build configs leave tests out).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
let failed = 0
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group)).sort()) {
    const project = join(root, group, name, 'tsconfig.json')
    if (!existsSync(project)) continue
    const r = spawnSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' })
    if (r.status !== 0) failed++
  }
}
process.exit(failed ? 1 : 0)
