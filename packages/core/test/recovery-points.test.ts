import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { NewEvent, StreamId, TenantId } from '../src/index.js'
import { FsBlobStore, createIdFactory, newEvent, openFsEventLog, streamPath, verifyDataDir } from '../src/index.js'
import { PointsWriter, RecoveryPoints } from '../src/fs/recovery-points.js'
import { silentLogger } from '../src/ports/logger.js'

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'shiioo-points-'))
  dirs.push(d)
  return d
}
const T = 'default' as TenantId
const ids = createIdFactory()
const actor = { kind: 'system' as const, id: 'points-test' }
const ev = (i: number) =>
  newEvent(
    'step.started',
    { stepId: `s${i}`, attempt: 1, idempotencyKey: `k${i}` },
    { id: ids.eventId(), at: new Date(), actor },
  )
let n = 0
const controlStream = () => `points-test-${++n}` as StreamId

/** A stream of `events` written one commit each by a process that then stopped cleanly. */
async function written(dataDir: string, stream: StreamId, events: readonly NewEvent[]): Promise<string> {
  const log = openFsEventLog({ dataDir })
  for (const [i, e] of events.entries()) await log.append({ tenant: T, stream, expectedVersion: i, events: [e] })
  await log.close()
  return streamPath(dataDir, T, stream)
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code: string; message: string }) => `${e.code} ${e.message}`,
  )

/** Every way of reading the stream, and an append, all refuse it; the file is left exactly as it was. */
async function refusedEverywhere(dataDir: string, stream: StreamId, path: string, pattern: RegExp) {
  const before = readFileSync(path)
  const log = openFsEventLog({ dataDir })
  expect(await codeOf(log.read({ tenant: T, stream }))).toMatch(pattern)
  expect(await codeOf(log.version({ tenant: T, stream }))).toMatch(pattern)
  expect(await codeOf(log.append({ tenant: T, stream, expectedVersion: 'any', events: [ev(99)] }))).toMatch(pattern)
  const report = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
  expect(report.ok).toBe(false)
  expect(report.problems).toHaveLength(1)
  expect(report.problems[0]!.id).toBe(stream)
  await log.close()
  expect(readFileSync(path).equals(before)).toBe(true) // nothing cut, nothing added
  return report.problems[0]!
}

describe('recovery points: acknowledged bytes are never cut', () => {
  it('a flipped byte in the last record of a stream is damage naming its seq, not a torn tail', async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    const path = await written(dataDir, stream, [ev(1), ev(2), ev(3), ev(4), ev(5)])
    const buf = readFileSync(path)
    buf[buf.length - 12]! ^= 0x40
    writeFileSync(path, buf)
    const problem = await refusedEverywhere(
      dataDir,
      stream,
      path,
      /^DATA_CORRUPTED .*damaged record holding seq 5 .*not a torn tail/,
    )
    expect(problem.seq).toBe(5)
  })

  it('a file cut mid-record or at a record boundary is reported as cut short, from the first missing seq', async () => {
    for (const cut of ['mid-record', 'boundary'] as const) {
      const dataDir = tempDir()
      const stream = controlStream()
      const events = [ev(1), ev(2), ev(3), ev(4), ev(5), ev(6)]
      const path = await written(dataDir, stream, events)
      // the length after four events: the same stream written again with the first four only
      const shorter = await written(tempDir(), stream, events.slice(0, 4))
      const boundary = readFileSync(shorter).length
      const full = readFileSync(path).length
      truncateSync(path, cut === 'boundary' ? boundary : boundary + Math.floor((full - boundary) / 3))
      const problem = await refusedEverywhere(
        dataDir,
        stream,
        path,
        /^DATA_CORRUPTED .*cut short: \d+ acknowledged bytes are missing from seq 5 on .*events through seq 6/,
      )
      expect(problem.seq).toBe(5)
    }
  })

  it('well-formed records appended by something else are reported from their first seq', async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    const events = [ev(1), ev(2), ev(3), ev(4)]
    const path = await written(dataDir, stream, events.slice(0, 3))
    // the same events and one more, written elsewhere: the extra record is exactly what a writer would write
    const longer = readFileSync(await written(tempDir(), stream, events))
    const length = readFileSync(path).length
    appendFileSync(path, longer.subarray(length))
    const problem = await refusedEverywhere(
      dataDir,
      stream,
      path,
      /^DATA_CORRUPTED .*bytes past byte \d+ \(from seq 4 on\) were never acknowledged/,
    )
    expect(problem.seq).toBe(4)
  })

  it('a torn tail past the point is still a torn tail: reads skip it, verify warns, the next append cuts it', async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    const path = await written(dataDir, stream, [ev(1), ev(2)])
    const length = readFileSync(path).length
    appendFileSync(path, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02])) // a member's first bytes
    const log = openFsEventLog({ dataDir })
    expect((await log.read({ tenant: T, stream })).length).toBe(2)
    const report = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
    expect(report.problems).toEqual([])
    expect(report.warnings.map((w) => w.message).join()).toMatch(/torn tail of 6 bytes at byte/)
    const r = await log.append({ tenant: T, stream, expectedVersion: 2, events: [ev(3)] })
    expect(r.firstSeq).toBe(3)
    await log.close()
    expect(readFileSync(path).length).toBeGreaterThan(length)
    const again = openFsEventLog({ dataDir, readOnly: true })
    expect((await again.read({ tenant: T, stream })).map((e) => e.seq)).toEqual([1, 2, 3])
    await again.close()
  })

  it("a killed writer's journal, replayed, records its streams' points: a cut is found after recovery", async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, 'fixtures', 'pause-writer.mjs'), dataDir, stream, '15000', '600000'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.split('\n').filter((l) => l.startsWith('ack')).length >= 10) resolve()
      })
      child.once('exit', () => reject(new Error('writer exited')))
    })
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    const acked = out.split('\n').filter((l) => l.startsWith('ack')).length
    // its commits are in its journal alone (write-behind of 10 minutes): opening replays them
    const log = openFsEventLog({ dataDir })
    const read = await log.read({ tenant: T, stream })
    expect(read.length).toBeGreaterThanOrEqual(acked)
    await log.close()
    const points = new RecoveryPoints(dataDir)
    const path = streamPath(dataDir, T, stream)
    expect(points.get(T, stream)).toEqual({ end: readFileSync(path).length, seq: read.length })
    truncateSync(path, points.get(T, stream)!.end - 1)
    await refusedEverywhere(dataDir, stream, path, /^DATA_CORRUPTED .*cut short: 1 acknowledged bytes are missing/)
  }, 30_000)

  it('index rebuild reports a damaged stream instead of folding what is left of it', async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    const path = await written(dataDir, stream, [ev(1), ev(2), ev(3)])
    truncateSync(path, readFileSync(path).length - 1)
    const { foldFiles } = await import('../src/fs/fs-stream-folder.js')
    const outcome = await foldFiles(
      dataDir,
      [{ tenant: T, stream, token: '', fromSeq: 1 }],
      Buffer.alloc(1024),
      new RecoveryPoints(dataDir),
    )
    expect(outcome.failed.map((f) => f.message).join()).toMatch(
      /cut short: 1 acknowledged bytes are missing from seq 3 on/,
    )
  })
})

describe('recovery points files', () => {
  it('keep the highest point of a stream, skip lines a crash tore, and merge closed files into one base', () => {
    const dataDir = tempDir()
    const points = new RecoveryPoints(dataDir)
    const s = 'merged' as StreamId
    for (let i = 0; i < 20; i++) {
      const w = new PointsWriter(points, `owner-${i.toString(36)}`, { sync: false, logger: silentLogger })
      w.write([{ tenant: T, stream: s, end: 100 + ((i * 7) % 20), seq: i }])
      w.close()
    }
    const dir = join(dataDir, 'recovery')
    appendFileSync(join(dir, 'owner-0.1.points'), `default/merged 999999 1 0123`) // torn: no newline, bad check
    const fresh = new RecoveryPoints(dataDir)
    expect(fresh.get(T, s)?.end).toBe(119)
    const live = new Set(['owner-1'])
    fresh.merge(live, silentLogger)
    const left = readdirSync(dir).sort()
    expect(left).toEqual(['base.points', 'owner-1.1.points'])
    const after = new RecoveryPoints(dataDir)
    expect(after.get(T, s)?.end).toBe(119)
    // a reader that had loaded before sees the merged base as a new file
    fresh.refresh()
    expect(fresh.get(T, s)?.end).toBe(119)
  })
})
