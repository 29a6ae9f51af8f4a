import type { EventLog, ShiiooError, StoredEvent, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT } from '@shiioo/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { errorCodeOf } from './errors.js'
import { EventFactory } from './events.js'

export interface EventLogHarness {
  log: EventLog
  /** Closes and opens the log again on the same storage (a restart). */
  reopen?: () => Promise<EventLog>
  cleanup: () => Promise<void>
}

const T = DEFAULT_TENANT
const OTHER = 'acme' as TenantId

/** The EventLog port's contract. Every adapter runs this against its real backend. */
export function eventLogConformance(name: string, factory: () => Promise<EventLogHarness>): void {
  describe(`EventLog conformance: ${name}`, () => {
    let h: EventLogHarness
    let f: EventFactory
    beforeEach(async () => {
      h = await factory()
      f = new EventFactory()
    })
    afterEach(async () => {
      await h.log.close()
      await h.cleanup()
    })

    it('appends in order and reads back exactly what was appended', async () => {
      const run = f.runId()
      const events = f.run(3)
      const r = await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events })
      expect(r).toEqual({ firstSeq: 1, lastSeq: events.length, duplicate: false })
      const read = await h.log.read({ tenant: T, stream: run })
      expect(read.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
      expect(read.map((e) => [e.id, e.type, e.at, e.actor, e.data])).toEqual(
        events.map((e) => [e.id, e.type, e.at, e.actor, e.data]),
      )
      expect(read.every((e) => e.stream === run && e.tenant === T)).toBe(true)
      expect(await h.log.version({ tenant: T, stream: run })).toBe(events.length)
    })

    it('reads a range and reports version 0 and no events for a missing stream', async () => {
      const run = f.runId()
      await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: f.run(4) })
      const part = await h.log.read({ tenant: T, stream: run, fromSeq: 3, toSeq: 5 })
      expect(part.map((e) => e.seq)).toEqual([3, 4, 5])
      expect(await h.log.read({ tenant: T, stream: f.runId() })).toEqual([])
      expect(await h.log.version({ tenant: T, stream: f.runId() })).toBe(0)
    })

    it('rejects an append at the wrong expected version with CONFLICT and writes nothing', async () => {
      const run = f.runId()
      await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [f.runStarted()] })
      expect(
        await errorCodeOf(h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [f.stepStarted('a')] })),
      ).toBe('CONFLICT')
      expect(
        await errorCodeOf(h.log.append({ tenant: T, stream: run, expectedVersion: 5, events: [f.stepStarted('a')] })),
      ).toBe('CONFLICT')
      expect(await h.log.version({ tenant: T, stream: run })).toBe(1)
    })

    it('lets exactly one of two concurrent appends at the same version win', async () => {
      const run = f.runId()
      await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [f.runStarted()] })
      for (let round = 0; round < 5; round++) {
        const v = await h.log.version({ tenant: T, stream: run })
        const results = await Promise.allSettled([
          h.log.append({ tenant: T, stream: run, expectedVersion: v, events: [f.stepStarted(`a${round}`)] }),
          h.log.append({ tenant: T, stream: run, expectedVersion: v, events: [f.stepStarted(`b${round}`)] }),
        ])
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
        const loser = results.find((r) => r.status === 'rejected')!
        expect((loser.reason as ShiiooError).code).toBe('CONFLICT')
      }
      expect(await h.log.version({ tenant: T, stream: run })).toBe(6)
    })

    it('treats a re-append of the same event ids as a no-op that returns the original positions', async () => {
      const run = f.runId()
      const first = [f.runStarted(), f.stepStarted('a')]
      await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: first })
      await h.log.append({ tenant: T, stream: run, expectedVersion: 2, events: [f.stepCompleted('a')] })
      const again = await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: first })
      expect(again).toEqual({ firstSeq: 1, lastSeq: 2, duplicate: true })
      expect(await h.log.version({ tenant: T, stream: run })).toBe(3)
      // same id, different content: not a retry
      const forged = {
        ...first[1]!,
        data: { stepId: 'zzz', attempt: 1, idempotencyKey: 'x' },
      } as (typeof first)[number]
      expect(
        await errorCodeOf(h.log.append({ tenant: T, stream: run, expectedVersion: 'any', events: [forged] })),
      ).toBe('CONFLICT')
      // part old, part new: refused, nothing written
      expect(
        await errorCodeOf(
          h.log.append({ tenant: T, stream: run, expectedVersion: 'any', events: [first[0]!, f.stepStarted('b')] }),
        ),
      ).toBe('CONFLICT')
      expect(await h.log.version({ tenant: T, stream: run })).toBe(3)
    })

    it('commits many concurrent appends to one stream with no gap, duplicate or loss', async () => {
      const run = f.runId()
      await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [f.runStarted()] })
      const appended = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          h.log.append({ tenant: T, stream: run, expectedVersion: 'any', events: [f.stepStarted(`s${i}`)] }),
        ),
      )
      const seqs = appended.map((r) => r.firstSeq).sort((a, b) => a - b)
      expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 2))
      const read = await h.log.read({ tenant: T, stream: run })
      expect(new Set(read.map((e) => e.id)).size).toBe(201)
    })

    it('rejects invalid appends with INVALID_INPUT and writes nothing', async () => {
      const run = f.runId()
      const ok = f.runStarted()
      const cases: Array<[string, Promise<unknown>]> = [
        ['empty', h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [] })],
        ['bad tenant', h.log.append({ tenant: '../x' as TenantId, stream: run, expectedVersion: 0, events: [ok] })],
        [
          'bad stream',
          h.log.append({ tenant: T, stream: '../../etc/passwd' as typeof run, expectedVersion: 0, events: [ok] }),
        ],
        [
          'bad type',
          h.log.append({
            tenant: T,
            stream: run,
            expectedVersion: 0,
            events: [{ ...ok, type: 'nope' } as unknown as typeof ok],
          }),
        ],
        [
          'bad data',
          h.log.append({
            tenant: T,
            stream: run,
            expectedVersion: 0,
            events: [{ ...ok, data: { workflow: 1 } } as unknown as typeof ok],
          }),
        ],
        ['bad version', h.log.append({ tenant: T, stream: run, expectedVersion: -1, events: [ok] })],
        ['duplicate ids', h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [ok, ok] })],
      ]
      for (const [label, p] of cases) expect([label, await errorCodeOf(p)]).toEqual([label, 'INVALID_INPUT'])
      expect(await h.log.version({ tenant: T, stream: run })).toBe(0)
    })

    it('keeps tenants apart', async () => {
      const run = f.runId()
      await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: f.run(1) })
      expect(await h.log.read({ tenant: OTHER, stream: run })).toEqual([])
      await h.log.append({ tenant: OTHER, stream: run, expectedVersion: 0, events: [f.runStarted('other')] })
      const mine = await h.log.read({ tenant: T, stream: run })
      const theirs = await h.log.read({ tenant: OTHER, stream: run })
      expect(mine).toHaveLength(4)
      expect(theirs.map((e) => e.tenant)).toEqual([OTHER])
      const listed: string[] = []
      for await (const s of h.log.listStreams({ tenant: OTHER })) listed.push(`${s.tenant}/${s.stream}`)
      expect(listed).toEqual([`${OTHER}/${run}`])
    })

    it('lists run and control streams with tokens that change on append', async () => {
      const a = f.runId()
      const b = f.runId()
      await h.log.append({ tenant: T, stream: a, expectedVersion: 0, events: [f.runStarted()] })
      await h.log.append({ tenant: T, stream: b, expectedVersion: 0, events: [f.runStarted()] })
      await h.log.append({
        tenant: T,
        stream: 'audit' as typeof a,
        expectedVersion: 0,
        events: [f.runCancelled('control event')],
      })
      const before = new Map<string, string>()
      for await (const s of h.log.listStreams()) before.set(s.stream, s.token)
      expect([...before.keys()].sort()).toEqual([a, b, 'audit'].sort())
      const runs: string[] = []
      for await (const s of h.log.listStreams({ kind: 'run' })) runs.push(s.stream)
      expect(runs.sort()).toEqual([a, b].sort())
      await new Promise((r) => setTimeout(r, 5))
      await h.log.append({ tenant: T, stream: a, expectedVersion: 1, events: [f.stepStarted('x')] })
      for await (const s of h.log.listStreams()) {
        if (s.stream === a) expect(s.token).not.toBe(before.get(a))
        if (s.stream === b) expect(s.token).toBe(before.get(b))
      }
    })

    it('tells subscribers about durable appends, in order, and stops when unsubscribed', async () => {
      const seen: StoredEvent[] = []
      const off = h.log.subscribe((events) => seen.push(...events))
      const run = f.runId()
      await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events: f.run(2) })
      expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6])
      off()
      await h.log.append({ tenant: T, stream: run, expectedVersion: 'any', events: [f.stepStarted('late')] })
      expect(seen).toHaveLength(6)
    })

    it('keeps every acknowledged event across a restart', async () => {
      if (!h.reopen) return
      const run = f.runId()
      const events = f.run(5)
      await h.log.append({ tenant: T, stream: run, expectedVersion: 0, events })
      const log = await h.reopen()
      h.log = log
      const read = await log.read({ tenant: T, stream: run })
      expect(read.map((e) => e.id)).toEqual(events.map((e) => e.id))
      const next = await log.append({
        tenant: T,
        stream: run,
        expectedVersion: events.length,
        events: [f.stepStarted('after')],
      })
      expect(next.firstSeq).toBe(events.length + 1)
    })
  })
}
