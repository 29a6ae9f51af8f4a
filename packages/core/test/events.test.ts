import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { z } from 'zod'
import { describe, expect, it } from 'vitest'
import type { EventCatalog, RunSummary, StoredEvent } from '../src/index.js'
import {
  FsBlobStore,
  decodeStoredEvent,
  defaultCatalog,
  eventSchemas,
  foldRun,
  openFsEventLog,
  serializeEvent,
  storedEventSchema,
  validateNewEvent,
  verifyDataDir,
} from '../src/index.js'

const line = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: 'evt_01KEYHQ0A0AAAAAAAAAAAAAAAA',
    stream: 'run_01KEYHQ0A0AAAAAAAAAAAAAAAA',
    seq: 1,
    type: 'run.started',
    v: 2,
    at: '2026-01-07T10:00:00.000Z',
    tenant: 'default',
    actor: { kind: 'system', id: 'test' },
    data: { workflow: { name: 'w', hash: 'a'.repeat(64) } },
    ...over,
  })

describe('event envelope and catalog', () => {
  it('round-trips an event through serialize and decode', () => {
    const e = decodeStoredEvent(line())
    expect(decodeStoredEvent(serializeEvent(e))).toEqual(e)
  })

  it('names what is wrong with a bad stored record', () => {
    expect(() => decodeStoredEvent('{not json')).toThrow(/not valid JSON/)
    expect(() => decodeStoredEvent(line({ type: 'run.exploded' }))).toThrow(/unknown type "run.exploded"/)
    expect(() => decodeStoredEvent(line({ v: 9 }))).toThrow(/newer than this build knows/)
    expect(() => decodeStoredEvent(line({ seq: 0 }))).toThrow(/bad seq/)
    expect(() => decodeStoredEvent(line({ data: { workflow: { name: 'w', hash: 'nothex' } } }))).toThrow(
      /invalid run.started data/,
    )
  })

  it('upcasts old schema versions through the upcaster chain before validating', () => {
    const catalog: EventCatalog = {
      schemas: {
        ...defaultCatalog.schemas,
        'run.cancelled': { v: 3, data: z.object({ reason: z.string(), by: z.string() }) },
      },
      upcasters: {
        'run.cancelled@1': (d) => ({ reason: (d as { why: string }).why }),
        'run.cancelled@2': (d) => ({ ...(d as object), by: 'unknown' }),
      },
    }
    const e = decodeStoredEvent(line({ seq: 2, type: 'run.cancelled', v: 1, data: { why: 'old shape' } }), catalog)
    expect(e.v).toBe(3)
    expect(e.data).toEqual({ reason: 'old shape', by: 'unknown' })
    expect(() =>
      decodeStoredEvent(line({ type: 'run.cancelled', v: 2, data: {} }), { ...catalog, upcasters: {} }),
    ).toThrow(/no upcaster/)
  })

  it('validates proposed events and names the field', () => {
    const ok = {
      id: 'evt_01KEYHQ0A0AAAAAAAAAAAAAAAA',
      type: 'step.started',
      v: 1,
      at: '2026-01-07T10:00:00.000Z',
      actor: { kind: 'user', id: 'ann' },
    }
    expect(() => validateNewEvent({ ...ok, data: { stepId: '../x', attempt: 1, idempotencyKey: 'k' } })).toThrow(
      /data.stepId/,
    )
    expect(() => validateNewEvent({ ...ok, data: { stepId: 'a', attempt: 0, idempotencyKey: 'k' } })).toThrow(
      /data.attempt/,
    )
    expect(() =>
      validateNewEvent({
        ...ok,
        actor: { kind: 'root', id: 'x' },
        data: { stepId: 'a', attempt: 1, idempotencyKey: 'k' },
      }),
    ).toThrow(/actor/)
    expect(() => validateNewEvent({ ...ok, v: 2, data: { stepId: 'a', attempt: 1, idempotencyKey: 'k' } })).toThrow(
      /v must be 1/,
    )
    expect(validateNewEvent({ ...ok, data: { stepId: 'a', attempt: 1, idempotencyKey: 'k' } }).type).toBe(
      'step.started',
    )
  })

  it('agrees with the catalog as one strict zod discriminated union', () => {
    const good = JSON.parse(line()) as unknown
    expect(storedEventSchema.safeParse(good).success).toBe(true)
    expect(storedEventSchema.safeParse({ ...(good as object), extra: 1 }).success).toBe(false)
    expect(storedEventSchema.safeParse({ ...(good as object), type: 'run.exploded' }).success).toBe(false)
    expect(storedEventSchema.safeParse({ ...(good as object), type: 'run.cancelled' }).success).toBe(false) // data shape of another type
  })

  it('upcasts run.started v1 (parentRunId) to v2 (parent)', () => {
    const parent = 'run_01KEYHQ0A0AAAAAAAAAAAAAAAB'
    const e = decodeStoredEvent(
      line({ v: 1, data: { workflow: { name: 'w', hash: 'a'.repeat(64) }, parentRunId: parent } }),
    )
    expect(e.v).toBe(2)
    expect(e.data).toEqual({ workflow: { name: 'w', hash: 'a'.repeat(64) }, parent: { runId: parent } })
  })

  it('every catalog type has a version and a schema', () => {
    for (const [type, def] of Object.entries(eventSchemas)) {
      expect(type).toMatch(/^[a-z]+\.[a-z]+$/)
      expect(def.v).toBeGreaterThanOrEqual(1)
    }
  })
})

describe('golden event logs', () => {
  // Data dirs written in the format of earlier builds, kept byte for byte: run-v1 holds a run log
  // with v1 events, the blobs they name (its definition, a large step output) and the idempotency
  // claim of its start. They must keep loading and folding to the same summary forever; a schema
  // change adds an upcaster, never a broken fixture.
  const golden = join(import.meta.dirname, 'fixtures', 'golden')
  const RUN = 'run_01M86CH3M00M0WV4MTNVGKY4KX'

  it('replays the v1 run log fixture to its recorded summary', () => {
    const file = join(golden, 'run-v1', 'events', '2026', '11', '24', `${RUN}.jsonl.gz`)
    const events = gunzipSync(readFileSync(file))
      .toString()
      .trim()
      .split('\n')
      .map((l) => decodeStoredEvent(l)) as StoredEvent[]
    expect(events[0]).toMatchObject({ type: 'run.started', v: 2 }) // upcast from v1
    expect(JSON.parse(gunzipSync(readFileSync(file)).toString().split('\n')[0]!)).toMatchObject({ v: 1 })
    const expected = JSON.parse(readFileSync(join(golden, 'run-v1.summary.json'), 'utf8')) as RunSummary
    expect(foldRun(events)).toEqual(expected)
    for (const e of events) expect(storedEventSchema.safeParse(JSON.parse(serializeEvent(e))).success).toBe(true)
  })

  it('holds every blob its events name, whole: verify passes on a copy', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shiioo-golden-'))
    try {
      cpSync(join(golden, 'run-v1'), dataDir, { recursive: true })
      const log = openFsEventLog({ dataDir })
      const report = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir }) })
      await log.close()
      expect(report.problems).toEqual([])
      expect(report).toMatchObject({ ok: true, streams: 2, events: 10, blobs: 2, referencedBlobs: 2 })
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
