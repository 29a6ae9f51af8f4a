import type {
  EventLog,
  FeedBatch,
  FeedCommit,
  FeedEvent,
  FeedPosition,
  FeedRequest,
  NewEvent,
  StreamId,
  TenantId,
} from '@shiioo/core'
import { DEFAULT_TENANT, ShiiooError } from '@shiioo/core'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EventFactory } from './events.js'

export interface FeedHarness {
  log: EventLog
  /** Closes the log and opens it again on the same storage (a restart); the suite uses the new one. */
  reopen(): Promise<EventLog>
  /**
   * Makes every position handed out so far older than what the feed keeps (its retention). May
   * append filler events, of tenant FILLER_TENANT only.
   */
  expire(): Promise<void>
  /** Loses the feed's most recent commit, as a machine crash may; returns the log to use afterwards. */
  loseTail(): Promise<EventLog>
  cleanup(): Promise<void>
  /** How many commits the adapter keeps in memory: the slow-subscriber test appends more than this. */
  window: number
}

/** The tenant of the events `FeedHarness.expire` may append. */
export const FILLER_TENANT = 'feed-filler' as TenantId

const T = DEFAULT_TENANT
const OTHER = 'acme' as TenantId

/** Reads `count` events from a subscription (or fewer if it ends), then stops it. */
async function take(log: EventLog, request: FeedRequest, count: number): Promise<FeedEvent[]> {
  if (count <= 0) return []
  const stop = new AbortController()
  const out: FeedEvent[] = []
  try {
    for await (const batch of log.feed.subscribe(request, stop.signal)) {
      out.push(...batch)
      if (out.length >= count) break
    }
  } finally {
    stop.abort()
  }
  return out.slice(0, count)
}

/** The error the first `next()` of a subscription throws (or 'none'). */
async function firstError(log: EventLog, request: FeedRequest): Promise<string> {
  const stop = new AbortController()
  const it = log.feed.subscribe(request, stop.signal)[Symbol.asyncIterator]()
  try {
    const first = it.next()
    // an accepted position waits for events: make it end, so the check does not hang
    setTimeout(() => stop.abort(), 200)
    await first
    return 'none'
  } catch (err) {
    const reason = err instanceof ShiiooError && typeof err.details.reason === 'string' ? err.details.reason : ''
    return err instanceof ShiiooError ? `${err.code}:${reason}` : String(err)
  } finally {
    stop.abort()
  }
}

const ids = (events: readonly FeedEvent[]) => events.map((e) => e.event.id)

/** The EventFeed port's contract (EventLog.feed). Every adapter runs it against its real backend. */
export function feedConformance(name: string, factory: () => Promise<FeedHarness>): void {
  describe(`EventFeed conformance: ${name}`, () => {
    let h: FeedHarness
    let f: EventFactory
    beforeEach(async () => {
      h = await factory()
      f = new EventFactory()
    })
    afterEach(async () => {
      await h.log.close()
      await h.cleanup()
    })

    const append = (stream: StreamId, events: NewEvent[], tenant: TenantId = T) =>
      h.log.append({ tenant, stream, expectedVersion: 'any', events })

    it('delivers every durable event once, in append order, with positions that grow', async () => {
      const [a, b] = [f.runId(), f.runId()]
      const appended: NewEvent[] = []
      for (const [stream, events] of [
        [a, f.run(1)],
        [b, [f.runStarted()]],
        [a, [f.stepStarted('x')]],
        [b, [f.stepStarted('y'), f.stepCompleted('y')]],
      ] as const) {
        await append(stream, [...events])
        appended.push(...events)
      }
      const got = await take(h.log, { after: 'start' }, appended.length)
      expect(ids(got)).toEqual(appended.map((e) => e.id))
      const positions = got.map((e) => e.position)
      expect([...positions].sort()).toEqual(positions)
      expect(new Set(positions).size).toBe(positions.length)
      expect(got.filter((e) => e.event.stream === a).map((e) => e.event.seq)).toEqual([1, 2, 3, 4, 5])
      expect(await h.log.feed.head()).toBe(positions.at(-1))
    })

    it('resumes after any position with no gap and no duplicate', async () => {
      const runs = [f.runId(), f.runId(), f.runId()]
      for (let i = 0; i < 12; i++) await append(runs[i % 3]!, [f.stepStarted(`s${i}`), f.stepCompleted(`s${i}`)])
      const all = await take(h.log, { after: 'start' }, 24)
      for (let i = 0; i < all.length; i++) {
        const rest = await take(h.log, { after: all[i]!.position }, all.length - i - 1)
        expect(ids(rest)).toEqual(ids(all.slice(i + 1)))
      }
    })

    it('resumes exactly at any split of any sequence of appends (property)', async () => {
      const streams = [f.runId(), f.runId(), 'audit' as StreamId]
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 })), {
            minLength: 1,
            maxLength: 8,
          }),
          fc.nat(),
          fc.integer({ min: 1, max: 4 }),
          async (appends, cut, limit) => {
            const from = await h.log.feed.head()
            const made: string[] = []
            for (const [s, n] of appends) {
              const events = Array.from({ length: n }, (_, i) => f.stepStarted(`p${i}`))
              await append(streams[s]!, events)
              made.push(...events.map((e) => e.id))
            }
            const all = await take(h.log, { after: from, limit }, made.length)
            expect(ids(all)).toEqual(made)
            expect(all.length).toBe(made.length)
            const at = cut % all.length
            const rest = await take(h.log, { after: all[at]!.position, limit }, made.length - at - 1)
            expect(ids(rest)).toEqual(made.slice(at + 1))
          },
        ),
        { numRuns: 25 },
      )
    })

    it('keeps batches within the limit', async () => {
      const run = f.runId()
      const events = f.run(3) // one commit of 8 events, then one of 2
      await append(run, events)
      await append(run, [f.stepStarted('x'), f.stepCompleted('x')])
      const stop = new AbortController()
      const sizes: number[] = []
      const got: FeedEvent[] = []
      for await (const batch of h.log.feed.subscribe({ after: 'start', limit: 3 }, stop.signal)) {
        sizes.push(batch.length)
        got.push(...batch)
        if (got.length >= events.length + 2) break
      }
      stop.abort()
      expect(events).toHaveLength(8)
      // a commit larger than the limit is split; a batch may hold the end of one and what follows
      expect(sizes.slice(0, 2)).toEqual([3, 3])
      expect(sizes.every((n) => n >= 1 && n <= 3)).toBe(true)
      expect(got.map((e) => e.event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    })

    it("'now' starts at the call: only later appends arrive; 'start' holds the earlier ones", async () => {
      const run = f.runId()
      const early = f.runStarted()
      await append(run, [early])
      const stop = new AbortController()
      const sub = h.log.feed.subscribe({ after: 'now' }, stop.signal)
      const late = f.stepStarted('a')
      await append(run, [late]) // before iteration begins: still after 'now'
      const it = sub[Symbol.asyncIterator]()
      const first = await it.next()
      stop.abort()
      expect(ids(first.value as FeedBatch)).toEqual([late.id])
      expect(ids(await take(h.log, { after: 'start' }, 2))).toEqual([early.id, late.id])
    })

    it('filters by stream, kind and type, and positions still resume exactly', async () => {
      const [a, b] = [f.runId(), f.runId()]
      const from = await h.log.feed.head()
      await append(a, [f.runStarted(), f.stepStarted('x')])
      await append('audit' as StreamId, [f.stepStarted('audit')])
      await append(b, [f.runStarted(), f.stepStarted('y')])
      await append(a, [f.stepCompleted('x')])
      const onlyA = await take(h.log, { after: from, streams: [a] }, 3)
      expect(onlyA.map((e) => e.event.seq)).toEqual([1, 2, 3])
      expect(onlyA.every((e) => e.event.stream === a)).toBe(true)
      const control = await take(h.log, { after: from, kinds: ['control'] }, 1)
      expect(control.map((e) => e.event.stream)).toEqual(['audit'])
      const starts = await take(h.log, { after: from, types: ['run.started'] }, 2)
      expect(starts.map((e) => e.event.stream)).toEqual([a, b])
      const afterFirst = await take(h.log, { after: starts[0]!.position, types: ['run.started'] }, 1)
      expect(afterFirst.map((e) => e.event.stream)).toEqual([b])
    })

    it("never shows one tenant's events to another tenant's subscription", async () => {
      const mine = f.runId()
      const theirs = f.runId()
      const from = await h.log.feed.head()
      await append(theirs, [f.runStarted(), f.stepStarted('secret')], OTHER)
      await append(mine, [f.runStarted()])
      await append(theirs, [f.stepCompleted('secret')], OTHER)
      await append(mine, [f.stepStarted('ok')])
      const seen = await take(h.log, { after: from, tenant: T }, 2)
      expect(seen.map((e) => [e.event.tenant, e.event.stream])).toEqual([
        [T, mine],
        [T, mine],
      ])
      // a position taken from the other tenant's events gives nothing of theirs either
      const other = await take(h.log, { after: from, tenant: OTHER }, 3)
      expect(other.every((e) => e.event.tenant === OTHER)).toBe(true)
      const resumed = await take(h.log, { after: other[0]!.position, tenant: T }, 2)
      expect(resumed.every((e) => e.event.tenant === T)).toBe(true)
      // the same stream id in another tenant is another stream
      await append(mine, [f.runStarted()], OTHER)
      await append(mine, [f.stepCompleted('ok')])
      const byStream = await take(h.log, { after: seen[1]!.position, tenant: T, streams: [mine] }, 1)
      expect(byStream.map((e) => [e.event.tenant, e.event.seq])).toEqual([[T, 3]])
    })

    it('lists commits without their events: one entry per append, with its seqs', async () => {
      const [a, b] = [f.runId(), f.runId()]
      const from = await h.log.feed.head()
      await append(a, [f.runStarted(), f.stepStarted('x')])
      await append(b, [f.runStarted()], OTHER)
      await append(a, [f.stepCompleted('x')])
      const stop = new AbortController()
      const got: FeedCommit[] = []
      for await (const batch of h.log.feed.commits({ after: from }, stop.signal)) {
        got.push(...batch)
        if (got.length >= 3) break
      }
      stop.abort()
      expect(got.map((c) => [c.tenant, c.stream, c.firstSeq, c.lastSeq])).toEqual([
        [T, a, 1, 2],
        [OTHER, b, 1, 1],
        [T, a, 3, 3],
      ])
      const events = await take(h.log, { after: from }, 4)
      expect(got.map((c) => c.position)).toEqual([events[1]!.position, events[2]!.position, events[3]!.position])
      const stop2 = new AbortController()
      for await (const batch of h.log.feed.commits({ after: got[0]!.position, tenant: T }, stop2.signal)) {
        expect(batch.map((c) => [c.stream, c.firstSeq])).toEqual([[a, 3]])
        break
      }
      stop2.abort()
    })

    it('waits for appends while subscribed, and ends when the signal aborts', async () => {
      const stop = new AbortController()
      const it = h.log.feed.subscribe({ after: 'now' }, stop.signal)[Symbol.asyncIterator]()
      const pending = it.next()
      const run = f.runId()
      const e = f.runStarted()
      await append(run, [e])
      expect(ids((await pending).value as FeedBatch)).toEqual([e.id])
      const waiting = it.next()
      stop.abort()
      expect((await waiting).done).toBe(true)
    })

    it('lets a slow subscriber fall behind without losing or repeating anything', async () => {
      const stop = new AbortController()
      const it = h.log.feed.subscribe({ after: 'now', limit: 1 }, stop.signal)[Symbol.asyncIterator]()
      const runs = [f.runId(), f.runId()]
      const made: string[] = []
      const first = it.next()
      for (let i = 0; i < h.window * 2 + 10; i++) {
        const e = i < 2 ? f.runStarted() : f.stepStarted(`s${i}`)
        await append(runs[i % 2]!, [e])
        made.push(e.id)
      }
      const got: string[] = ids((await first).value as FeedBatch)
      while (got.length < made.length) got.push(...ids((await it.next()).value as FeedBatch))
      stop.abort()
      expect(got).toEqual(made)
    })

    it('keeps positions across a restart', async () => {
      const run = f.runId()
      await append(run, f.run(2))
      const before = await take(h.log, { after: 'start' }, 6)
      h.log = await h.reopen()
      expect(await h.log.feed.head()).toBe(before.at(-1)!.position)
      const later = f.stepStarted('after-restart')
      await append(run, [later])
      expect(ids(await take(h.log, { after: before[2]!.position }, 4))).toEqual([...ids(before.slice(3)), later.id])
    })

    it('refuses a malformed position with INVALID_INPUT, and bad filters naming the field', async () => {
      expect(await firstError(h.log, { after: 'yesterday' as FeedPosition })).toBe('INVALID_INPUT:')
      expect(() =>
        h.log.feed.subscribe({ after: 'start', tenant: 'Not A Tenant' as TenantId }, new AbortController().signal),
      ).toThrow(/tenant/)
      expect(() =>
        h.log.feed.subscribe({ after: 'start', types: ['no.such' as never] }, new AbortController().signal),
      ).toThrow(/types\[0\]/)
      expect(() => h.log.feed.subscribe({ after: 'start', limit: 0 }, new AbortController().signal)).toThrow(/limit/)
    })

    it('refuses a position older than the retention with GONE, and serves newer ones', async () => {
      const run = f.runId()
      await append(run, [f.runStarted()])
      const old = (await take(h.log, { after: 'start', tenant: T }, 1))[0]!.position
      await h.expire()
      const fresh = f.stepStarted('fresh')
      await append(run, [fresh])
      expect(await firstError(h.log, { after: old })).toBe('GONE:expired')
      const head = await h.log.feed.head()
      const next = f.stepCompleted('fresh')
      await append(run, [next])
      expect(ids(await take(h.log, { after: head }, 1))).toEqual([next.id])
      expect(ids(await take(h.log, { after: 'start', tenant: T }, 1))).toEqual([fresh.id])
    })

    it('refuses a position the feed lost (a crash) with GONE, before and after new appends', async () => {
      const run = f.runId()
      await append(run, [f.runStarted()])
      await append(run, [f.stepStarted('lost')])
      const got = await take(h.log, { after: 'start', tenant: T, streams: [run] }, 2)
      const kept = got[0]!.position
      const lost = got[1]!.position
      h.log = await h.loseTail()
      expect(await firstError(h.log, { after: lost })).toBe('GONE:unknown')
      await append(run, [f.stepCompleted('lost')])
      await append(run, [f.stepStarted('more')])
      expect(await firstError(h.log, { after: lost })).toBe('GONE:unknown')
      expect(await firstError(h.log, { after: kept })).toBe('none')
    })

    it('delivers concurrent appends to many streams, each stream in seq order', async () => {
      const runs = Array.from({ length: 8 }, () => f.runId())
      const from = await h.log.feed.head()
      await Promise.all(
        runs.map(async (run) => {
          for (let i = 0; i < 5; i++) await append(run, [f.stepStarted(`c${i}`)])
        }),
      )
      const got = await take(h.log, { after: from }, 40)
      expect(got).toHaveLength(40)
      for (const run of runs) {
        expect(got.filter((e) => e.event.stream === run).map((e) => e.event.seq)).toEqual([1, 2, 3, 4, 5])
      }
      const positions = got.map((e) => e.position)
      expect([...positions].sort()).toEqual(positions)
    })
  })
}
