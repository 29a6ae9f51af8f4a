import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { afterEach, describe, expect, it } from 'vitest'
import type { StreamId } from '../src/index.js'
import {
  CORE_EVENT_MODULES,
  DEFAULT_TENANT,
  createEventCatalog,
  createIdFactory,
  decodeStoredEvent,
  defineEventModule,
  openFsEventLog,
} from '../src/index.js'

const ids = createIdFactory()
const actor = { kind: 'user' as const, id: 'alice' }
const dirs: string[] = []
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })))

/** A feature of its own (as identity, audit or budgets will be), with a type at its second version. */
const notes = defineEventModule({
  name: 'notes',
  events: {
    'note.added': { v: 2, data: z.object({ text: z.string().max(100), pinned: z.boolean() }).strict() },
  },
  // v1 had no `pinned`
  upcasters: { 'note.added@1': (data) => ({ ...(data as object), pinned: false }) },
})

const note = (text: string, extra: Record<string, unknown> = {}) => ({
  id: ids.eventId(),
  type: 'note.added',
  v: 2,
  at: new Date().toISOString(),
  actor,
  data: { text, pinned: true, ...extra },
})

describe('event modules and catalogs', () => {
  it('composes core and feature modules; a log given the catalog takes and reads the feature events, a default log refuses them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shiioo-registry-'))
    dirs.push(dataDir)
    const catalog = createEventCatalog([...CORE_EVENT_MODULES, notes])
    expect(catalog.modules?.map((m) => m.name)).toEqual([
      'runs',
      'idempotency',
      'workflows',
      'audit',
      'identity',
      'notes',
    ])
    const stream = 'notes.board' as StreamId
    const log = openFsEventLog({ dataDir, catalog })
    await log.append({ tenant: DEFAULT_TENANT, stream, expectedVersion: 0, events: [note('hello') as never] })
    const bad = await log
      .append({ tenant: DEFAULT_TENANT, stream, expectedVersion: 1, events: [note('x', { colour: 'red' }) as never] })
      .catch((e: { code: string; message: string }) => `${e.code} ${e.message}`)
    expect(bad).toMatch(/^INVALID_INPUT events\[0\]\.data: .*note\.added/)
    expect((await log.read({ tenant: DEFAULT_TENANT, stream })).map((e) => e.data)).toEqual([
      { text: 'hello', pinned: true },
    ])
    await log.close()

    const plain = openFsEventLog({ dataDir })
    const refused = await plain
      .append({ tenant: DEFAULT_TENANT, stream, expectedVersion: 1, events: [note('again') as never] })
      .catch((e: { code: string; message: string }) => `${e.code} ${e.message}`)
    expect(refused).toBe('INVALID_INPUT events[0].type "note.added" is not a known event type')
    await expect(plain.read({ tenant: DEFAULT_TENANT, stream })).rejects.toThrow(/unknown type "note.added"/)
    await plain.close()
  })

  it("upcasts a feature's old versions with the feature's own upcasters", () => {
    const catalog = createEventCatalog([...CORE_EVENT_MODULES, notes])
    const line = JSON.stringify({
      id: ids.eventId(),
      stream: 'notes.board',
      seq: 1,
      type: 'note.added',
      v: 1,
      at: '2026-12-03T10:00:00.000Z',
      tenant: 'default',
      actor,
      data: { text: 'old' },
    })
    expect(decodeStoredEvent(line, catalog)).toMatchObject({ v: 2, data: { text: 'old', pinned: false } })
  })

  it('refuses a type declared twice, a malformed type or version, and an upcaster for no older version of its own types', () => {
    const twice = defineEventModule({ name: 'again', events: { 'run.started': { v: 1, data: z.object({}) } } })
    expect(() => createEventCatalog([...CORE_EVENT_MODULES, twice])).toThrow(
      'event type run.started is declared by modules runs and again',
    )
    expect(() =>
      createEventCatalog([defineEventModule({ name: 'x', events: { Loud: { v: 1, data: z.object({}) } } })]),
    ).toThrow(/"Loud" is not a <feature>.<what> event type/)
    expect(() =>
      createEventCatalog([defineEventModule({ name: 'x', events: { 'x.y': { v: 0, data: z.object({}) } } })]),
    ).toThrow(/x.y has version 0/)
    for (const key of ['note.added@2', 'note.added@0', 'other.type@1', 'nonsense']) {
      const m = defineEventModule({ name: 'notes', events: notes.events, upcasters: { [key]: (d) => d } })
      expect(() => createEventCatalog([m])).toThrow(`upcaster "${key}" names no older version`)
    }
  })
})
