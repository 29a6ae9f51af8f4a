import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import {
  DEFAULT_TENANT,
  FsBlobStore,
  createIdFactory,
  openFsEventLog,
  streamPath,
  verifyDataDir,
} from '../src/index.js'

const writerScript = join(import.meta.dirname, 'fixtures', 'crash-writer.mjs')
const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

interface ChildRun {
  acked: Map<string, number>
  blobs: Set<string>
  exit: Promise<number | null>
  ready: Promise<void>
  kill: () => void
}

function startWriter(dataDir: string, stream: string, label: string, env: Record<string, string> = {}): ChildRun {
  const child = spawn(process.execPath, [writerScript, dataDir, stream, '8', label], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  })
  const acked = new Map<string, number>()
  const blobs = new Set<string>()
  let buffered = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((r) => (onReady = r))
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop()!
    for (const line of lines) {
      const [kind, ...rest] = line.split(' ')
      if (kind === 'ready') onReady()
      if (kind === 'blob') blobs.add(rest[0]!)
      if (kind === 'ack') {
        const first = Number(rest[0])
        rest.slice(1).forEach((id, i) => id !== '-' && acked.set(id, first + i))
      }
    }
  })
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { acked, blobs, exit, ready, kill: () => child.kill('SIGKILL') }
}

describe('crash safety with real processes', () => {
  it('keeps every acknowledged event across 55 SIGKILLs at random points, with torn tails cut', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shiioo-crash-'))
    dirs.push(dataDir)
    const stream = createIdFactory().runId()
    const file = streamPath(dataDir, DEFAULT_TENANT, stream)
    const acked = new Map<string, number>()
    const blobKeys = new Set<string>()
    let tornInjected = 0
    const kills = 55
    for (let i = 0; i < kills; i++) {
      const w = startWriter(dataDir, stream, `k${i}`)
      await w.ready
      // from inside the first commit (recovery, stale locks, a new journal segment) to steady appends
      await new Promise((r) => setTimeout(r, 2 + Math.floor(Math.random() * 80)))
      w.kill()
      expect(await w.exit).toBe(null) // died by the signal, not on its own
      for (const [id, seq] of w.acked) acked.set(id, seq)
      for (const k of w.blobs) blobKeys.add(k)
      if (i % 5 === 2) {
        // what a crash in the middle of a write leaves: the first part of a gzip member
        const member = gzipSync('{"id":"evt_torn","seq":999999}\n'.repeat(20))
        appendFileSync(file, member.subarray(0, Math.floor(member.length / 2)))
        tornInjected++
      }

      const log = openFsEventLog({ dataDir })
      const events = await log.read({ tenant: DEFAULT_TENANT, stream }) // strict: decodes every record
      await log.close()
      const bySeq = new Map<string, number>(events.map((e) => [e.id, e.seq]))
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length) // no duplicates
      expect(events.map((e) => e.seq)).toEqual(events.map((_, k) => k + 1)) // no gaps
      for (const [id, seq] of acked) expect([id, bySeq.get(id)]).toEqual([id, seq]) // nothing acknowledged is lost
    }
    expect(acked.size).toBeGreaterThan(kills)
    expect(tornInjected).toBeGreaterThanOrEqual(10)

    // one last clean writer cuts the last torn tail; then the whole data dir verifies
    const w = startWriter(dataDir, stream, 'final')
    await w.ready
    await new Promise((r) => setTimeout(r, 50))
    w.kill()
    await w.exit
    const log = openFsEventLog({ dataDir })
    const blobs = new FsBlobStore({ dataDir })
    const report = await verifyDataDir({ log, blobs })
    await log.close()
    expect(report.problems).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.events).toBeGreaterThanOrEqual(acked.size)
    for (const key of blobKeys)
      expect(Buffer.from(await blobs.get({ tenant: DEFAULT_TENANT, key })).length).toBeGreaterThan(0)
  }, 180_000)

  it('serializes two processes appending to one stream: no interleaving, no loss', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shiioo-2proc-'))
    dirs.push(dataDir)
    const stream = createIdFactory().runId()
    const env = { CRASH_WRITER_EVENTS: '60' }
    const a = startWriter(dataDir, stream, 'a', env)
    const b = startWriter(dataDir, stream, 'b', env)
    expect(await a.exit).toBe(0)
    expect(await b.exit).toBe(0)
    const log = openFsEventLog({ dataDir })
    const events = await log.read({ tenant: DEFAULT_TENANT, stream })
    await log.close()
    const acked = new Map([...a.acked, ...b.acked])
    expect(acked.size).toBe(2 * 8 * 60)
    expect(events).toHaveLength(acked.size + 1) // plus run.started, written by whichever came first
    expect(events.map((e) => e.seq)).toEqual(events.map((_, k) => k + 1))
    for (const e of events.slice(1)) expect(acked.get(e.id)).toBe(e.seq)
    const writers = new Set(events.map((e) => e.actor.id))
    expect(writers.size).toBe(2)
  }, 120_000)
})
