import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsCapacityLedger, InProcessCapacityLedger } from '@shiioo/core'
import { describe, expect, it } from 'vitest'
import { capacityLedgerConformance } from '../src/index.js'

capacityLedgerConformance('in-process', async () => {
  const ledger = new InProcessCapacityLedger()
  return { a: ledger, b: ledger, cleanup: async () => {} }
})

capacityLedgerConformance('data dir (two ledgers on one directory)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shiioo-ledger-'))
  return {
    a: new FsCapacityLedger(join(dir, 'capacity')),
    b: new FsCapacityLedger(join(dir, 'capacity')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

// Real processes, each with its own ledger on one directory, reserving as fast as they can.
const CHILD = `
import { FsCapacityLedger } from '@shiioo/core'
const [dir, n, now] = process.argv.slice(1)
const ledger = new FsCapacityLedger(dir)
let ok = 0
await Promise.all(Array.from({ length: Number(n) }, async () => {
  const r = await ledger.reserve({ source: 'shared', now: Number(now), tokens: 10, limits: { requestsPerMinute: 50, tokensPerMinute: 100000 }, slackMs: 1000 })
  if (r.ok) ok++
}))
process.stdout.write(String(ok))
`

function child(dir: string, n: number, now: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', CHILD, dir, String(n), String(now)], {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`child exited ${code}`))))
  })
}

describe('FsCapacityLedger between processes', () => {
  it('four processes reserving at once admit exactly the limit between them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shiioo-ledger-procs-'))
    try {
      const now = Date.UTC(2027, 0, 5, 10, 0, 0)
      const counts = await Promise.all([0, 1, 2, 3].map(() => child(join(dir, 'capacity'), 40, now)))
      expect(counts.reduce((a, b) => a + b, 0)).toBe(50)
      const usage = await new FsCapacityLedger(join(dir, 'capacity')).usage({ source: 'shared', now, slackMs: 1000 })
      expect(usage).toMatchObject({ requests: 50, tokens: 500 })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
