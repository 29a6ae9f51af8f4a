import { spawn } from 'node:child_process'
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { StreamId, TenantId } from '../src/index.js'
import { FsBlobStore, createIdFactory, newEvent, openFsEventLog, streamPath, verifyDataDir } from '../src/index.js'
import { SPARE_FILE, decodeSegment, encodeRecord, segmentId } from '../src/fs/journal-format.js'

const writerScript = join(import.meta.dirname, 'fixtures', 'journal-writer.mjs')
const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'shiioo-journal-'))
  dirs.push(d)
  return d
}
const ids = createIdFactory()
const T = 'default' as TenantId
const actor = { kind: 'system' as const, id: 'journal-test' }
const ev = (i: number) =>
  newEvent(
    'step.started',
    { stepId: `s${i}`, attempt: 1, idempotencyKey: `k${i}` },
    { id: ids.eventId(), at: new Date(), actor },
  )

type Acked = Map<string, { tenant: string; stream: string; seq: number }>

/** Runs the writer child until it has acknowledged everything, then kills it with SIGKILL. */
async function writeAndKill(
  dataDir: string,
  count = 60,
  streams = 6,
  segmentBytes = 64 << 20,
  files: 'written' | 'waiting' = 'written',
): Promise<Acked> {
  const args = [writerScript, dataDir, String(count), String(streams), String(segmentBytes), files]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const acked: Acked = new Map()
  let buffered = ''
  const done = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      for (const line of lines) {
        if (line === 'done') resolve()
        const [kind, tenant, stream, seq, id] = line.split(' ')
        if (kind === 'ack') acked.set(id!, { tenant: tenant!, stream: stream!, seq: Number(seq) })
      }
    })
    child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)))
  })
  await done
  const exited = new Promise((r) => child.on('exit', r))
  child.kill('SIGKILL')
  await exited
  return acked
}

function streamsOf(acked: Acked) {
  const m = new Map<string, { tenant: TenantId; stream: StreamId }>()
  for (const a of acked.values())
    m.set(`${a.tenant}/${a.stream}`, { tenant: a.tenant as TenantId, stream: a.stream as StreamId })
  return [...m.values()]
}

async function expectAllPresent(dataDir: string, acked: Acked) {
  const log = openFsEventLog({ dataDir })
  const report = await log.recovered()
  const seen = new Map<string, number>()
  for (const { tenant, stream } of streamsOf(acked)) {
    for (const e of await log.read({ tenant, stream })) seen.set(e.id, e.seq)
  }
  for (const [id, a] of acked) expect(seen.get(id), `${a.stream} seq ${a.seq}`).toBe(a.seq)
  expect(seen.size).toBe(acked.size)
  const verified = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
  expect(verified.problems).toEqual([])
  await log.close()
  return report!
}

const journalFiles = (dataDir: string) => readdirSync(join(dataDir, 'journal'))
const segments = (dataDir: string) => journalFiles(dataDir).filter((n) => n.endsWith('.wal') && !SPARE_FILE.test(n))
const spares = (dataDir: string) => journalFiles(dataDir).filter((n) => SPARE_FILE.test(n))

describe('the write-ahead journal', () => {
  it('restores acknowledged commits that a machine crash took from the stream files', async () => {
    const dataDir = tempDir()
    const acked = await writeAndKill(dataDir)
    expect(acked.size).toBeGreaterThan(300)
    expect(segments(dataDir).length).toBeGreaterThan(0) // the one in use and the next, made ahead
    // A machine crash loses what was never fsynced: the stream files were only in the page cache
    // (the journal was not checkpointed), so take them away, whole or in part.
    streamsOf(acked).forEach(({ tenant, stream }, i) => {
      const path = streamPath(dataDir, tenant, stream)
      if (i % 3 === 0) rmSync(path)
      else if (i % 3 === 1) truncateSync(path, 100)
      else appendFileSync(path, Buffer.alloc(700)) // an unwritten block after the file's end reads as zeros
    })
    const report = await expectAllPresent(dataDir, acked)
    expect(report.owners).toBe(1)
    expect(report.repaired).toBeGreaterThan(0)
    expect(segments(dataDir)).toEqual([]) // replayed, the stream files fsynced, the segment deleted
  })

  it('after a kill and recovery, damage to acknowledged bytes is reported naming stream and seq, and never cut', async () => {
    const dataDir = tempDir()
    const acked = await writeAndKill(dataDir, 40, 8)
    await expectAllPresent(dataDir, acked)
    let seed = 7
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)
    const kinds = ['flip', 'cut mid-file', 'cut at a boundary', 'duplicate first record'] as const
    const damaged = streamsOf(acked).map(({ tenant, stream }, i) => {
      const path = streamPath(dataDir, tenant, stream)
      const buf = readFileSync(path)
      const kind = kinds[i % kinds.length]!
      if (kind === 'flip') {
        // in the last record's data (see the engine's crash property: bytes no checksum covers
        // or whose bits mean nothing are left alone)
        const last = buf.lastIndexOf(Buffer.from([0x1f, 0x8b, 0x08]))
        buf[last + 15 + random(buf.length - last - 24)]! ^= 1 << random(8)
        writeFileSync(path, buf)
      } else if (kind === 'cut mid-file') truncateSync(path, 1 + random(buf.length - 1))
      else if (kind === 'cut at a boundary') truncateSync(path, buf.lastIndexOf(Buffer.from([0x1f, 0x8b, 0x08])))
      else appendFileSync(path, buf.subarray(0, buf.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), 1)))
      return { tenant, stream, path, kind, bytes: readFileSync(path) }
    })
    const log = openFsEventLog({ dataDir })
    for (const d of damaged) {
      const err = await log.read({ tenant: d.tenant, stream: d.stream }).then(
        () => null,
        (e: { code: string; details: { stream?: string; seq?: number } }) => e,
      )
      expect(err, `${d.kind} of ${d.stream}`).toMatchObject({ code: 'DATA_CORRUPTED', details: { stream: d.stream } })
      expect(err!.details.seq, d.kind).toBeGreaterThan(0)
      const append = await log
        .append({ tenant: d.tenant, stream: d.stream, expectedVersion: 'any', events: [ev(1)] })
        .then(
          () => 'ok',
          (e: { code: string }) => e.code,
        )
      expect(append, d.kind).toBe('DATA_CORRUPTED')
    }
    const report = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
    expect(report.problems.map((p) => p.id).sort()).toEqual(damaged.map((d) => d.stream).sort())
    await log.close()
    for (const d of damaged) expect(readFileSync(d.path).equals(d.bytes), d.kind).toBe(true)
  })

  it('finds nothing to repair after a process kill (the page cache survives) and removes the journal', async () => {
    const dataDir = tempDir()
    const acked = await writeAndKill(dataDir, 30)
    const report = await expectAllPresent(dataDir, acked)
    expect(report).toMatchObject({ owners: 1, repaired: 0 })
    expect(report.entries).toBeGreaterThan(0)
    expect(segments(dataDir)).toEqual([])
  })

  it('writes the commits a killed process left waiting for their stream files from its journal', async () => {
    const dataDir = tempDir()
    const acked = await writeAndKill(dataDir, 30, 6, 64 << 20, 'waiting')
    // the files got nothing: every acknowledged commit was in the journal alone
    for (const { tenant, stream } of streamsOf(acked)) {
      expect(
        existsSync(streamPath(dataDir, tenant, stream)) ? readFileSync(streamPath(dataDir, tenant, stream)).length : 0,
      ).toBe(0)
    }
    const report = await expectAllPresent(dataDir, acked)
    expect(report.owners).toBe(1)
    expect(report.repaired).toBe(report.entries)
    expect(report.entries).toBeGreaterThan(30)
    expect(segments(dataDir)).toEqual([])
  })

  it('stops at a torn journal tail and keeps everything before it', async () => {
    const dataDir = tempDir()
    const acked = await writeAndKill(dataDir, 20, 3)
    const [seg] = segments(dataDir)
    const path = join(dataDir, 'journal', seg!)
    // what a crash in the middle of a journal write leaves: half of a record, then zeros
    const [, owner, n] = /^(.+)\.(\d+)\.wal$/.exec(seg!)!
    const id = segmentId(owner!, Number(n))
    const record = Buffer.concat(
      encodeRecord(id, {
        tenant: 'default' as TenantId,
        stream: 'torn' as StreamId,
        offset: 0,
        bytes: Buffer.alloc(500, 1),
        seq: 0,
      }),
    )
    const bytes = readFileSync(path)
    const { end } = decodeSegment(bytes, id)
    writeFileSync(path, Buffer.concat([bytes.subarray(0, end), record.subarray(0, 200), Buffer.alloc(4096)]))
    for (const { tenant, stream } of streamsOf(acked)) rmSync(streamPath(dataDir, tenant, stream))
    await expectAllPresent(dataDir, acked)
    expect(existsSync(streamPath(dataDir, 'default' as TenantId, 'torn' as StreamId))).toBe(false)
  })

  it('never lets a record name a path: ids are validated and a bad record ends the segment', () => {
    const record = (...args: Parameters<typeof encodeRecord>) => Buffer.concat(encodeRecord(...args))
    const good = record(1, {
      tenant: 'default' as TenantId,
      stream: 'audit' as StreamId,
      offset: 0,
      bytes: Buffer.from('x'),
      seq: 0,
    })
    const forged = record(1, {
      tenant: '../../etc' as TenantId,
      stream: 'passwd' as StreamId,
      offset: 0,
      bytes: Buffer.from('root'),
      seq: 0,
    })
    const decoded = decodeSegment(Buffer.concat([good, forged, good]), 1)
    expect(decoded.entries).toHaveLength(1)
    expect(decoded.stoppedBy).toMatch(/invalid record header/)
    const flipped = Buffer.from(good)
    flipped[flipped.length - 1]! ^= 1
    expect(decodeSegment(flipped, 1).stoppedBy).toMatch(/checksum/)
    expect(decodeSegment(good, 2).stoppedBy).toMatch(/another segment/)
    expect(decodeSegment(Buffer.concat([good, Buffer.alloc(64)]), 1)).toMatchObject({
      stoppedBy: null,
      end: good.length,
    })
  })

  it("leaves a live process's journal alone", async () => {
    const dataDir = tempDir()
    const child = spawn(process.execPath, [writerScript, dataDir, '10', '2'], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (c: Buffer) => c.toString().includes('done') && resolve()),
    )
    try {
      const before = segments(dataDir)
      expect(before.length).toBeGreaterThan(0)
      const log = openFsEventLog({ dataDir })
      expect(await log.recovered()).toMatchObject({ owners: 0, entries: 0 })
      await log.close()
      expect(segments(dataDir)).toEqual(before)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('checkpoints full segments: stream files fsynced, old segments deleted, nothing lost', async () => {
    const dataDir = tempDir()
    const log = openFsEventLog({ dataDir, journalSegmentBytes: 8 * 1024, journalCheckpointDelayMs: 0 })
    const streams = Array.from({ length: 5 }, () => ids.runId())
    await Promise.all(
      streams.map(async (stream) => {
        for (let i = 0; i < 80; i++) await log.append({ tenant: T, stream, expectedVersion: i, events: [ev(i)] })
      }),
    )
    // 400 commits of about 300 bytes in 8 KiB segments: many rotations, only the last few remain
    await new Promise((r) => setTimeout(r, 50)) // the checkpoints (due at once) run
    expect(segments(dataDir).length).toBeLessThanOrEqual(3)
    for (const stream of streams) expect(await log.version({ tenant: T, stream })).toBe(80)
    await log.close()
    expect(segments(dataDir)).toEqual([]) // a clean close checkpoints the rest
    // checkpointed segments are kept (at most two) for the next ones to reuse
    expect(spares(dataDir).length).toBeGreaterThan(0)
    expect(spares(dataDir).length).toBeLessThanOrEqual(2)
    expect(readdirSync(join(dataDir, 'journal')).filter((n) => n.endsWith('.lock'))).toEqual([])
  })

  it('keeps full segments until their delayed checkpoint; close checkpoints them at once', async () => {
    const dataDir = tempDir()
    const log = openFsEventLog({ dataDir, journalSegmentBytes: 8 * 1024, journalCheckpointDelayMs: 60_000 })
    const stream = ids.runId()
    for (let i = 0; i < 200; i++) await log.append({ tenant: T, stream, expectedVersion: i, events: [ev(i)] })
    expect(segments(dataDir).length).toBeGreaterThan(3) // sealed, waiting for their checkpoint
    await log.close()
    expect(segments(dataDir)).toEqual([])
    const again = openFsEventLog({ dataDir })
    expect(await again.version({ tenant: T, stream })).toBe(200)
    expect(await again.recovered()).toMatchObject({ owners: 0 })
    await again.close()
  })

  it('reuses checkpointed segments and replays only their new records', async () => {
    const dataDir = tempDir()
    const old = openFsEventLog({ dataDir, journalSegmentBytes: 16 * 1024, journalCheckpointDelayMs: 0 })
    const stream = 'ledger' as StreamId
    for (let i = 0; i < 100; i++) await old.append({ tenant: T, stream, expectedVersion: i, events: [ev(i)] })
    await old.close()
    const before = spares(dataDir)
    expect(before.length).toBeGreaterThan(0)
    // a new process takes the spares (full of the old records) as its segments, then dies
    const acked = await writeAndKill(dataDir, 10, 2, 16 * 1024)
    expect(spares(dataDir).filter((s) => before.includes(s)).length).toBeLessThan(before.length)
    for (const { tenant, stream: s } of streamsOf(acked)) rmSync(streamPath(dataDir, tenant, s))
    const report = await expectAllPresent(dataDir, acked)
    // every replayed entry is one of the new process's commits (at most one per event it acked)
    expect(report.entries).toBeLessThanOrEqual(acked.size)
    const log = openFsEventLog({ dataDir })
    expect(await log.version({ tenant: T, stream })).toBe(100)
    await log.close()
  })

  it('ends a reused segment where its own records end', () => {
    const mine = segmentId('owner-a', 1)
    const older = segmentId('owner-b', 7)
    const rec = (id: number, offset: number) =>
      Buffer.concat(
        encodeRecord(id, { tenant: T, stream: 'audit' as StreamId, offset, bytes: Buffer.from('x'), seq: 0 }),
      )
    const decoded = decodeSegment(Buffer.concat([rec(mine, 0), rec(mine, 1), rec(older, 2), rec(older, 3)]), mine)
    expect(decoded.entries.map((e) => e.offset)).toEqual([0, 1])
    expect(decoded.stoppedBy).toMatch(/another segment/)
  })

  it('commits without the journal too (journal: false fsyncs each stream file)', async () => {
    const dataDir = tempDir()
    const log = openFsEventLog({ dataDir, journal: false })
    const stream = ids.runId()
    for (let i = 0; i < 5; i++) await log.append({ tenant: T, stream, expectedVersion: i, events: [ev(i)] })
    expect(existsSync(join(dataDir, 'journal'))).toBe(false)
    expect(await log.version({ tenant: T, stream })).toBe(5)
    await log.close()
  })

  it('a read-only log creates, renames and locks nothing in the data dir, and refuses appends', async () => {
    const dataDir = tempDir()
    const writer = openFsEventLog({ dataDir })
    const stream = 'notes' as StreamId
    await writer.append({ tenant: T, stream, expectedVersion: 0, events: [ev(1), ev(2)] })
    await writer.close()
    const before = snapshot(dataDir)
    expect(spares(dataDir).length).toBeGreaterThan(0) // what a reader used to rename into place
    const reader = openFsEventLog({ dataDir, readOnly: true })
    expect(await reader.recovered()).toEqual({ owners: 0, entries: 0, repaired: 0 })
    expect((await reader.read({ tenant: T, stream })).map((e) => e.seq)).toEqual([1, 2])
    expect(await reader.version({ tenant: T, stream })).toBe(2)
    await expect(reader.append({ tenant: T, stream, expectedVersion: 2, events: [ev(3)] })).rejects.toThrow(
      /opened read-only/,
    )
    const verified = await verifyDataDir({ log: reader, blobs: new FsBlobStore({ dataDir }) })
    expect(verified.problems).toEqual([])
    await reader.close()
    expect(snapshot(dataDir)).toEqual(before)
  })

  it("a read-only log still replays a killed writer's journal before it reads", async () => {
    const dataDir = tempDir()
    const acked = await writeAndKill(dataDir, 30, 6, 64 << 20, 'waiting')
    const reader = openFsEventLog({ dataDir, readOnly: true })
    const report = await reader.recovered()
    expect(report).toMatchObject({ owners: 1 })
    expect(report!.repaired).toBeGreaterThan(30)
    const seen = new Set<string>()
    for (const { tenant, stream } of streamsOf(acked)) {
      for (const e of await reader.read({ tenant, stream })) seen.add(e.id)
    }
    expect([...acked.keys()].filter((id) => !seen.has(id))).toEqual([])
    await reader.close()
    expect(segments(dataDir)).toEqual([])
  })
})

/** Every file of a data dir with its size and modification time (what a reader must leave alone). */
function snapshot(dataDir: string): string[] {
  return readdirSync(dataDir, { recursive: true, withFileTypes: true })
    .map((e) => {
      const path = join(e.parentPath, e.name)
      const s = statSync(path)
      return `${path.slice(dataDir.length)} ${e.isDirectory() ? 'dir' : s.size} ${s.mtimeMs} ${s.ino}`
    })
    .sort()
}
