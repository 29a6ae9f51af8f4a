import { existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, closeSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { NewEvent, StreamId } from '../src/index.js'
import { createIdFactory, DEFAULT_TENANT, newEvent, openFsEventLog, streamPath } from '../src/index.js'
import type { Handle } from '../src/fs/stream-handles.js'
import { WriteBehind } from '../src/fs/write-behind.js'

const T = DEFAULT_TENANT
const actor = { kind: 'system' as const, id: 'test' }
const ids = createIdFactory()
const ev = (i: number): NewEvent =>
  newEvent(
    'step.started',
    { stepId: `s${i}`, attempt: 1, idempotencyKey: `k${i}` },
    { id: ids.eventId(), at: new Date(), actor },
  )
/** Longer than any test: commits reach their files only when something needs them there. */
const LONG = 10 * 60_000
let dataDir: string

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'shiioo-write-behind-'))
})
afterEach(() => rmSync(dataDir, { recursive: true, force: true }))

/** The events a stream file holds on disk, read without the log (as another process would). */
function onDisk(stream: StreamId): number {
  const path = streamPath(dataDir, T, stream)
  const bytes = existsSync(path) ? readFileSync(path) : Buffer.alloc(0)
  if (bytes.length === 0) return 0
  const text = gunzipSync(bytes).toString('utf8')
  return text === '' ? 0 : text.trimEnd().split('\n').length
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('write-behind of journaled commits to stream files', () => {
  it('keeps journaled commits off the file until the delay, and a read in the process sees them all', async () => {
    const log = openFsEventLog({ dataDir, writeBehindMs: LONG })
    const stream = ids.runId()
    for (let i = 0; i < 5; i++) await log.append({ tenant: T, stream, expectedVersion: i, events: [ev(i)] })
    expect(onDisk(stream)).toBe(0) // durable in the journal only
    expect((await log.read({ tenant: T, stream })).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
    expect(onDisk(stream)).toBe(5) // the read wrote them out first, in one go
    await log.append({ tenant: T, stream, expectedVersion: 5, events: [ev(5)] })
    expect(await log.version({ tenant: T, stream })).toBe(6)
    await log.close()
    expect(onDisk(stream)).toBe(6)
  })

  it('writes them after the delay on its own', async () => {
    const log = openFsEventLog({ dataDir, writeBehindMs: 20 })
    const stream = ids.runId()
    await log.append({ tenant: T, stream, expectedVersion: 0, events: [ev(0), ev(1)] })
    await until(() => onDisk(stream) === 2, 'the file holds the commit')
    await log.close()
  })

  it('writes every waiting commit before a journal checkpoint makes the stream files durable', async () => {
    const log = openFsEventLog({
      dataDir,
      writeBehindMs: LONG,
      journalSegmentBytes: 8 * 1024,
      journalCheckpointDelayMs: 0,
    })
    const streams = Array.from({ length: 4 }, () => ids.runId())
    await Promise.all(
      streams.map(async (stream) => {
        for (let i = 0; i < 60; i++) await log.append({ tenant: T, stream, expectedVersion: i, events: [ev(i)] })
      }),
    )
    // 240 commits in 8 KiB segments: segments were sealed and checkpointed (due at once), and only
    // a checkpoint could have written the files meanwhile
    const segments = () => readdirSync(join(dataDir, 'journal')).filter((n) => /^[^s].*\.wal$/.test(n))
    await until(() => segments().length <= 3, 'the sealed segments are checkpointed')
    for (const stream of streams) expect(onDisk(stream)).toBeGreaterThan(40)
    await log.close()
    for (const stream of streams) expect(onDisk(stream)).toBe(60)
  })

  it("writes a stream's waiting commits before its lock passes to another writer", async () => {
    const a = openFsEventLog({ dataDir, writeBehindMs: LONG, lockIdleMs: 30 })
    const b = openFsEventLog({ dataDir })
    const stream = ids.runId()
    for (let i = 0; i < 3; i++) await a.append({ tenant: T, stream, expectedVersion: i, events: [ev(i)] })
    const lock = `${streamPath(dataDir, T, stream)}.lock`
    await until(() => !existsSync(lock), 'the idle lock is released')
    expect(onDisk(stream)).toBe(3)
    // the other writer takes over at the right version: nothing of a's is missing or overwritten
    await b.append({ tenant: T, stream, expectedVersion: 3, events: [ev(3)] })
    expect((await b.read({ tenant: T, stream })).map((e) => e.seq)).toEqual([1, 2, 3, 4])
    await Promise.all([a.close(), b.close()])
  })

  it('writes the waiting commits of a stream it stops keeping open', async () => {
    const log = openFsEventLog({ dataDir, writeBehindMs: LONG, maxOpenStreams: 4 })
    const streams = Array.from({ length: 12 }, () => ids.runId())
    for (const stream of streams) {
      await log.append({ tenant: T, stream, expectedVersion: 0, events: [ev(0)] })
      await log.append({ tenant: T, stream, expectedVersion: 1, events: [ev(1)] })
    }
    // one idle stream is closed per stream opened beyond four: the first eight
    expect(streams.map(onDisk)).toEqual([...Array<number>(8).fill(2), ...Array<number>(4).fill(0)])
    await log.close()
    expect(streams.map(onDisk)).toEqual(Array<number>(12).fill(2))
  })

  it('keeps a failed write as the failure of every later write, and says where and what to do', () => {
    const path = join(dataDir, 'read-only')
    writeFileSync(path, '')
    const fd = openSync(path, 'r')
    const logged: string[] = []
    const logger = { debug() {}, info() {}, warn() {}, error: (m: string) => logged.push(m), child: () => logger }
    const wb = new WriteBehind(LONG, logger)
    const h = { path, fd, unwritten: [], unwrittenAt: 0, unwrittenBytes: 0 } as unknown as Handle
    wb.add(h, Buffer.from('abc'), 0)
    expect(() => wb.write(h)).toThrow(/could not be written to .*read-only.*restarts and recovers them/)
    expect(wb.failure?.code).toBe('UNAVAILABLE')
    expect(logged).toEqual(['stream file write failed'])
    expect(() => wb.writeAll()).toThrow(wb.failure!.message)
    closeSync(fd)
  })
})
