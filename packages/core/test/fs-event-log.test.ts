import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { NewEvent, ShiiooError, StreamId, TenantId } from '../src/index.js'
import {
  createIdFactory,
  DEFAULT_TENANT,
  encodeMember,
  FsBlobStore,
  newEvent,
  openFsEventLog,
  sha256Hex,
  streamPath,
  verifyDataDir,
} from '../src/index.js'

const T = DEFAULT_TENANT
const actor = { kind: 'system' as const, id: 'test' }
let dataDir: string
const ids = createIdFactory(() => Date.UTC(2026, 0, 7, 10, 0, 0))
/** The runs' definition: writeTwoEvents stores it, so the data dir is whole for verify. */
const DEFINITION = Buffer.from('{"name":"w","steps":[]}')
const started = (): NewEvent =>
  newEvent(
    'run.started',
    { workflow: { name: 'w', hash: sha256Hex(DEFINITION) } },
    { id: ids.eventId(), at: new Date(), actor },
  )
const step = (s: string): NewEvent =>
  newEvent('step.started', { stepId: s, attempt: 1, idempotencyKey: s }, { id: ids.eventId(), at: new Date(), actor })

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'resolved'
  } catch (err) {
    return (err as ShiiooError).code
  }
}

/** A run with two events on disk: its id, file and size, with no log left open. */
async function writeTwoEvents() {
  const run = ids.runId()
  await new FsBlobStore({ dataDir }).put({ tenant: T, data: DEFINITION })
  const log = openFsEventLog({ dataDir })
  await log.append({ tenant: T, stream: run, expectedVersion: 0, events: [started(), step('a')] })
  await log.close()
  const file = streamPath(dataDir, T, run)
  return { run, file, size: statSync(file).size }
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'shiioo-fslog-'))
})
afterEach(() => rmSync(dataDir, { recursive: true, force: true }))

describe('filesystem event log layout', () => {
  it('writes runs to events/YYYY/MM/DD/<run_id>.jsonl.gz dated by the run start, control streams to control/, tenants under tenants/', async () => {
    const log = openFsEventLog({ dataDir })
    const run = ids.runId()
    await log.append({ tenant: T, stream: run, expectedVersion: 0, events: [started(), step('a')] })
    await log.append({ tenant: T, stream: 'audit' as StreamId, expectedVersion: 0, events: [step('x')] })
    await log.append({ tenant: 'acme' as TenantId, stream: run, expectedVersion: 0, events: [started()] })
    await log.close()
    expect(existsSync(join(dataDir, 'events/2026/01/07', `${run}.jsonl.gz`))).toBe(true)
    expect(existsSync(join(dataDir, 'control/audit.jsonl.gz'))).toBe(true)
    expect(relative(dataDir, streamPath(dataDir, 'acme' as TenantId, run))).toBe(
      `tenants/acme/events/2026/01/07/${run}.jsonl.gz`,
    )
    // plain gzip JSON lines: what `zcat file | jq` reads
    const lines = gunzipSync(readFileSync(streamPath(dataDir, T, run)))
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.map((l) => [l.seq, l.type, l.stream, l.tenant, l.v])).toEqual([
      [1, 'run.started', run, 'default', 2],
      [2, 'step.started', run, 'default', 1],
    ])
    expect(Object.keys(lines[0]!)).toEqual(['id', 'stream', 'seq', 'type', 'v', 'at', 'tenant', 'actor', 'data'])
  })

  it('cuts a torn tail before the next append, and verify reports it as a warning until then', async () => {
    const { run, file, size } = await writeTwoEvents()
    appendFileSync(file, encodeMember('{"half":"written"}\n'.repeat(10)).subarray(0, 25))
    let log = openFsEventLog({ dataDir })
    const report = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
    expect(report.ok).toBe(true)
    expect(report.warnings).toHaveLength(1)
    expect(report.warnings[0]).toMatchObject({ kind: 'stream', id: run, offset: size })
    expect(await log.read({ tenant: T, stream: run })).toHaveLength(2)
    const r = await log.append({ tenant: T, stream: run, expectedVersion: 2, events: [step('b')] })
    expect(r.firstSeq).toBe(3)
    await log.close()
    expect(gunzipSync(readFileSync(file)).toString().trim().split('\n')).toHaveLength(3)
    log = openFsEventLog({ dataDir })
    expect((await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })).warnings).toEqual([])
    await log.close()
  })

  it('refuses to read or append past damage in the middle, and verify names the first bad record', async () => {
    const run = ids.runId()
    let log = openFsEventLog({ dataDir })
    await log.append({ tenant: T, stream: run, expectedVersion: 0, events: [started()] })
    await log.append({ tenant: T, stream: run, expectedVersion: 1, events: [step('a'), step('b'), step('c')] })
    await log.append({ tenant: T, stream: run, expectedVersion: 4, events: [step('d')] })
    await log.close()
    const file = streamPath(dataDir, T, run)
    const bytes = readFileSync(file)
    const second = bytes.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), 10)
    bytes[second + 14] = bytes[second + 14]! ^ 0x55
    writeFileSync(file, bytes)
    log = openFsEventLog({ dataDir })
    expect(await code(log.read({ tenant: T, stream: run }))).toBe('DATA_CORRUPTED')
    expect(await code(log.append({ tenant: T, stream: run, expectedVersion: 'any', events: [step('e')] }))).toBe(
      'DATA_CORRUPTED',
    )
    expect(readFileSync(file)).toEqual(bytes) // nothing was written or cut
    const report = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
    expect(report.ok).toBe(false)
    // the damaged record holds seq 2-4: the seq verify names is its first, not the stream's
    expect(report.problems[0]).toMatchObject({ kind: 'stream', id: run, offset: second, seq: 2 })
    expect(report.problems[0]!.message).toContain(`damaged record holding seq 2-4 at byte ${second}`)
    await log.close()
  })

  it('rejects an oversized event with PAYLOAD_TOO_LARGE and keeps the rest of the batch commit', async () => {
    const log = openFsEventLog({ dataDir, maxEventBytes: 2000 })
    const run = ids.runId()
    await log.append({ tenant: T, stream: run, expectedVersion: 0, events: [started()] })
    const huge = newEvent(
      'step.skipped',
      { stepId: 'big', reason: 'x'.repeat(1000) },
      { id: ids.eventId(), at: new Date(), actor },
    )
    const hugeAgain = { ...huge, data: { stepId: 'big', reason: 'é'.repeat(1000) } } as NewEvent
    const results = await Promise.allSettled([
      log.append({ tenant: T, stream: run, expectedVersion: 'any', events: [hugeAgain] }),
      log.append({ tenant: T, stream: run, expectedVersion: 'any', events: [step('small')] }),
    ])
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'PAYLOAD_TOO_LARGE' } })
    expect(results[1]).toMatchObject({ status: 'fulfilled', value: { firstSeq: 2 } })
    expect(await log.version({ tenant: T, stream: run })).toBe(2)
    await log.close()
  })

  it('closes idle streams beyond maxOpenStreams and reopens them transparently', async () => {
    const log = openFsEventLog({ dataDir, maxOpenStreams: 4 })
    const runs = Array.from({ length: 20 }, () => ids.runId())
    for (const run of runs) await log.append({ tenant: T, stream: run, expectedVersion: 0, events: [started()] })
    for (const run of runs) await log.append({ tenant: T, stream: run, expectedVersion: 1, events: [step('again')] })
    for (const run of runs) expect(await log.version({ tenant: T, stream: run })).toBe(2)
    await log.close()
  })

  it('answers many reads at once, each with its own stream (files are read into one shared buffer)', async () => {
    const writer = openFsEventLog({ dataDir })
    const runs = Array.from({ length: 12 }, () => ids.runId())
    await Promise.all(
      runs.map((run, i) =>
        writer.append({
          tenant: T,
          stream: run,
          expectedVersion: 0,
          events: [started(), ...Array.from({ length: i }, (_, k) => step(`s${k}`))],
        }),
      ),
    )
    await writer.close()
    const log = openFsEventLog({ dataDir }) // a fresh log: its reads wait for recovery first
    const [read, versions] = await Promise.all([
      Promise.all(runs.map((run) => log.read({ tenant: T, stream: run }))),
      Promise.all(runs.map((run) => log.version({ tenant: T, stream: run }))),
    ])
    runs.forEach((run, i) => {
      expect(read[i]!.map((e) => e.stream)).toEqual(Array(i + 1).fill(run))
      expect(versions[i]).toBe(i + 1)
    })
    await log.close()
  })

  it('refuses an append that holds one event id twice, naming it, and writes nothing (small and large batches)', async () => {
    const log = openFsEventLog({ dataDir })
    const run = ids.runId()
    const first = started()
    const few = [first, step('a'), { ...step('b'), id: first.id }]
    await expect(log.append({ tenant: T, stream: run, expectedVersion: 0, events: few })).rejects.toThrow(
      `events[2].id ${first.id} appears twice in one append`,
    )
    const many = [started(), ...Array.from({ length: 30 }, (_, i) => step(`s${i}`))]
    many.push({ ...step('again'), id: many[20]!.id })
    await expect(log.append({ tenant: T, stream: run, expectedVersion: 0, events: many })).rejects.toThrow(
      `events[31].id ${many[20]!.id} appears twice in one append`,
    )
    expect(await log.version({ tenant: T, stream: run })).toBe(0)
    await log.close()
  })

  it('fails appends after close with UNAVAILABLE', async () => {
    const log = openFsEventLog({ dataDir })
    await log.close()
    expect(await code(log.append({ tenant: T, stream: ids.runId(), expectedVersion: 0, events: [started()] }))).toBe(
      'UNAVAILABLE',
    )
  })
})

describe('filesystem event log: what a crash can leave at the end of a file', () => {
  it('treats zero padding and garbage after the last record as a torn tail, never as data', async () => {
    for (const tail of [
      Buffer.alloc(4096),
      Buffer.alloc(7),
      Buffer.from('garbage'),
      encodeMember('{"x":1}\n').subarray(0, 12),
    ]) {
      const { run, file, size } = await writeTwoEvents()
      appendFileSync(file, tail)
      const log = openFsEventLog({ dataDir })
      expect(await log.read({ tenant: T, stream: run })).toHaveLength(2)
      const report = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
      expect(report.warnings.find((w) => w.id === run)).toMatchObject({ offset: size })
      await log.append({ tenant: T, stream: run, expectedVersion: 2, events: [step('b')] })
      await log.close()
      expect(statSync(file).size).toBeGreaterThan(size)
      expect(gunzipSync(readFileSync(file)).toString().trim().split('\n')).toHaveLength(3)
      rmSync(file)
    }
  })
})

describe('filesystem event log: read validation levels', () => {
  it("checks data schemas in full by default, trusts checksummed data on 'checksum' reads, and verify always checks", async () => {
    const run = ids.runId()
    const log = openFsEventLog({ dataDir })
    await log.append({ tenant: T, stream: run, expectedVersion: 0, events: [started()] })
    await log.close()
    // a record with a well-formed envelope and a valid CRC but data its schema refuses
    const bad = {
      id: ids.eventId(),
      stream: run,
      seq: 2,
      type: 'step.started',
      v: 1,
      at: '2026-01-07T10:00:01.000Z',
      tenant: T,
      actor,
      data: { stepId: 'a', attempt: -5, idempotencyKey: 'k' },
    }
    appendFileSync(streamPath(dataDir, T, run), encodeMember(JSON.stringify(bad) + '\n'))
    // as if written before recovery points (else the record is refused as never acknowledged,
    // whatever its data: see recovery-points.test.ts); this test is about the data checks
    rmSync(join(dataDir, 'recovery'), { recursive: true, force: true })
    const reader = openFsEventLog({ dataDir })
    expect(await code(reader.read({ tenant: T, stream: run }))).toBe('DATA_CORRUPTED')
    const trusted = await reader.read({ tenant: T, stream: run, validation: 'checksum' })
    expect(trusted.map((e) => e.seq)).toEqual([1, 2])
    const report = await verifyDataDir({ log: reader, blobs: new FsBlobStore({ dataDir }) })
    expect(report.problems[0]).toMatchObject({ kind: 'stream', id: run, seq: 2 })
    await reader.close()
  })
})
