import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { NewEvent, RunId, StoredEvent, TenantId } from '../src/index.js'
import {
  DEFAULT_TENANT,
  FsBlobStore,
  blobPath,
  blobReferences,
  createIdFactory,
  foldRun,
  foldRunState,
  newEvent,
  openFsEventLog,
  sha256Hex,
  streamPath,
  verifyDataDir,
} from '../src/index.js'

const T = DEFAULT_TENANT
const ACME = 'acme' as TenantId
const actor = { kind: 'system' as const, id: 'engine' }
const ids = createIdFactory(() => Date.UTC(2026, 10, 24, 9, 0, 0))
const DEFINITION = Buffer.from('{"name":"verify-test","steps":[]}')
const OUTPUT = Buffer.from(JSON.stringify({ body: 'x'.repeat(100) }))
const REQUEST = Buffer.from(JSON.stringify([{ role: 'user', content: 'hi' }]))

let dataDir: string
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'shiioo-verify-'))
})
afterEach(() => rmSync(dataDir, { recursive: true, force: true }))

const blobOf = (data: Buffer) => ({ blob: sha256Hex(data), size: data.length, contentType: 'application/json' })
const meta = () => ({ id: ids.eventId(), at: new Date(Date.UTC(2026, 10, 24, 9, 0, 1)), actor })

/** A finished run whose events name three blobs: its definition, a step output and an agent turn's request. */
function runEvents(runId: RunId): NewEvent[] {
  return [
    newEvent('run.started', { workflow: { name: 'verify-test', hash: sha256Hex(DEFINITION) } }, meta()),
    newEvent('step.started', { stepId: 'a', attempt: 1, idempotencyKey: `${runId}:a:1` }, meta()),
    newEvent(
      'agent.turn',
      {
        stepId: 'a',
        attempt: 1,
        turn: 1,
        model: 'm',
        source: 's',
        usage: { inputTokens: 1, outputTokens: 1 },
        cost: 0,
        request: blobOf(REQUEST),
        response: { inline: { text: 'ok' } },
      },
      meta(),
    ),
    newEvent('step.completed', { stepId: 'a', attempt: 1, output: blobOf(OUTPUT) }, meta()),
    newEvent('run.completed', { output: { inline: { ok: true } } }, meta()),
  ]
}

async function writeRun(tenant: TenantId, blobs: Buffer[]): Promise<RunId> {
  const store = new FsBlobStore({ dataDir })
  for (const data of blobs) await store.put({ tenant, data })
  const log = openFsEventLog({ dataDir })
  const runId = ids.runId()
  await log.append({ tenant, stream: runId, expectedVersion: 0, events: runEvents(runId) })
  await log.close()
  return runId
}

async function verify() {
  const log = openFsEventLog({ dataDir })
  try {
    return await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
  } finally {
    await log.close()
  }
}

describe('blobReferences', () => {
  const stored = (e: NewEvent, seq = 1) => ({ ...e, stream: 'run_x', seq, tenant: T }) as unknown as StoredEvent

  it("names a run's definition and every payload in blob form, and nothing inside inline values", () => {
    const hidden = { blob: 'f'.repeat(64), size: 1, contentType: 'text/plain' }
    const events = [
      newEvent(
        'run.started',
        { workflow: { name: 'w', hash: 'a'.repeat(64) }, input: { inline: { user: hidden } } },
        meta(),
      ),
      newEvent('step.completed', { stepId: 'a', attempt: 1, output: blobOf(OUTPUT) }, meta()),
      newEvent('workflow.registered', { name: 'w', hash: 'b'.repeat(64) }, meta()),
      newEvent(
        'idempotency.claimed',
        { key: 'k', runId: 'run_01M86CH3M00M0WV4MTNVGKY4KX', requestHash: 'c'.repeat(64) },
        meta(),
      ),
    ]
    expect(events.map((e) => blobReferences(stored(e)))).toEqual([
      [{ key: 'a'.repeat(64), path: 'workflow.hash' }],
      [{ key: sha256Hex(OUTPUT), path: 'output' }],
      [{ key: 'b'.repeat(64), path: 'hash' }],
      [],
    ])
  })
})

describe('verifyDataDir and the blobs events name', () => {
  it('passes when every named blob is stored, and counts named and stored blobs', async () => {
    await writeRun(T, [DEFINITION, OUTPUT, REQUEST])
    await new FsBlobStore({ dataDir }).put({ tenant: T, data: Buffer.from('an unnamed blob') })
    const report = await verify()
    expect(report.problems).toEqual([])
    expect(report).toMatchObject({ ok: true, streams: 1, events: 5, blobs: 4, referencedBlobs: 3 })
  })

  it('names the stream, seq and hash of an event whose blob is missing', async () => {
    const runId = await writeRun(T, [DEFINITION, REQUEST])
    const report = await verify()
    expect(report.ok).toBe(false)
    expect(report).toMatchObject({ blobs: 2, referencedBlobs: 3 })
    expect(report.problems).toEqual([
      {
        kind: 'stream',
        tenant: T,
        id: runId,
        seq: 4,
        blob: sha256Hex(OUTPUT),
        message: `the event names blob ${sha256Hex(OUTPUT)}, which is not in tenant default's blob store`,
      },
    ])
  })

  it('reports a damaged named blob, as a bad blob and as a bad reference', async () => {
    const runId = await writeRun(T, [DEFINITION, OUTPUT, REQUEST])
    writeFileSync(blobPath(dataDir, T, sha256Hex(DEFINITION)), '{"name":"tampered","steps":[]}')
    const report = await verify()
    expect(report.ok).toBe(false)
    expect(report.problems).toHaveLength(2)
    expect(report.problems[0]).toMatchObject({ kind: 'blob', id: sha256Hex(DEFINITION) })
    expect(report.problems[0]!.message).toContain('is damaged')
    expect(report.problems[1]).toMatchObject({ kind: 'stream', id: runId, seq: 1, blob: sha256Hex(DEFINITION) })
    expect(report.problems[1]!.message).toMatch(/which is damaged \(blob [0-9a-f]{64} is damaged: its content hashes/)
  })

  it("does not count another tenant's copy of a blob as present", async () => {
    await writeRun(ACME, [DEFINITION, REQUEST])
    await new FsBlobStore({ dataDir }).put({ tenant: T, data: OUTPUT })
    const report = await verify()
    expect(report).toMatchObject({ ok: false, blobs: 3, referencedBlobs: 3 })
    expect(report.problems).toHaveLength(1)
    expect(report.problems[0]).toMatchObject({ kind: 'stream', tenant: ACME, seq: 4, blob: sha256Hex(OUTPUT) })
    expect(report.problems[0]!.message).toContain("not in tenant acme's blob store")
  })

  it('reports a blob named by many events once, with the first event and the count', async () => {
    const first = await writeRun(T, [OUTPUT, REQUEST])
    await writeRun(T, [])
    const report = await verify()
    const missing = report.problems.filter((p) => p.blob === sha256Hex(DEFINITION))
    expect(missing).toHaveLength(1)
    expect(missing[0]!.message).toContain('(named 2 times in all)')
    expect(missing[0]).toMatchObject({ id: first, seq: 1 })
    expect(report.referencedBlobs).toBe(3)
  })

  it('comments on what a writer killed before its first commit left: an empty stream file and its stale lock', async () => {
    const runId = ids.runId()
    const child = spawn(process.execPath, [STOPPED_WRITER, dataDir, T, runId], { stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()),
    )
    const exited = new Promise((r) => child.on('exit', r))
    child.kill('SIGKILL')
    await exited
    const path = streamPath(dataDir, T, runId)
    expect(statSync(path).size).toBe(0)
    let log = openFsEventLog({ dataDir, readOnly: true })
    const report = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
    expect(report).toMatchObject({ ok: true, streams: 1, events: 0, problems: [] })
    expect(report.warnings).toEqual([
      {
        kind: 'stream',
        tenant: T,
        id: runId,
        message:
          'empty stream file: a process stopped before its first commit to it was durable (nothing was acknowledged; the stream has no events)',
      },
      {
        kind: 'stream',
        tenant: T,
        id: runId,
        message: `stale lock ${path}.lock: its holder (process ${child.pid} on ${hostname()}) is gone; the next writer of the stream breaks it`,
      },
    ])
    await log.close()
    // the next writer breaks the lock and writes the stream; nothing is left to comment on
    log = openFsEventLog({ dataDir })
    await log.append({ tenant: T, stream: runId, expectedVersion: 0, events: [runEvents(runId)[0]!] })
    await log.close()
    await new FsBlobStore({ dataDir }).put({ tenant: T, data: DEFINITION })
    expect(existsSync(`${path}.lock`)).toBe(false)
    log = openFsEventLog({ dataDir, readOnly: true })
    expect((await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })).warnings).toEqual([])
    await log.close()
  })
})

describe('verify checks what every reader checks', () => {
  it("reports an event appended after its run ended, naming its seq, as the run's one fold refuses it", async () => {
    const runId = await writeRun(T, [DEFINITION, OUTPUT, REQUEST])
    // a well-formed event after run.completed: the log takes it (it checks envelopes and versions,
    // not what a run may do), but no reader of the run accepts it
    const log = openFsEventLog({ dataDir })
    await log.append({
      tenant: T,
      stream: runId,
      expectedVersion: 5,
      events: [newEvent('step.started', { stepId: 'b', attempt: 1, idempotencyKey: `${runId}:b:1` }, meta())],
    })
    await log.close()
    const report = await verify()
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: 'stream',
        id: runId,
        seq: 6,
        message: expect.stringContaining('the run already ended (completed)'),
      }),
    ])
    const again = openFsEventLog({ dataDir })
    try {
      expect(() => foldRunState([])).toThrow()
      const events = await again.read({ tenant: T, stream: runId })
      expect(() => foldRunState(events)).toThrow(/seq 6 .*the run already ended/)
      expect(() => foldRun(events)).toThrow(/seq 6 .*the run already ended/)
    } finally {
      await again.close()
    }
  })
})
const STOPPED_WRITER = join(import.meta.dirname, 'fixtures', 'stopped-writer.mjs')
