import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { FeedEvent, FeedRequest, StreamId, TenantId } from '../src/index.js'
import { createIdFactory, newEvent, openFsEventLog, silentLogger } from '../src/index.js'
import type { FsEventLog } from '../src/index.js'

const writerScript = join(import.meta.dirname, 'fixtures', 'feed-writer.mjs')
const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'shiioo-feed-'))
  dirs.push(d)
  return d
}
const ids = createIdFactory()
const actor = { kind: 'system' as const, id: 'feed-test' }
const step = (i: number) =>
  newEvent(
    'step.started',
    { stepId: `p${i}`, attempt: 1, idempotencyKey: `p${i}` },
    { id: ids.eventId(), at: new Date(), actor },
  )

type Acked = Map<string, { tenant: string; stream: string; seq: number }>

/** A child appending to `streams` (every third of tenant acme) until `count` appends each, or until killed. */
function startWriter(dataDir: string, streams: string[], count: number, segmentBytes: number, syncMs = 5000) {
  const child = spawn(
    process.execPath,
    [writerScript, dataDir, streams.join(','), String(count), String(segmentBytes), String(syncMs)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const acked: Acked = new Map()
  let buffered = ''
  let firstAck: () => void = () => {}
  const acking = new Promise<void>((r) => (firstAck = r))
  let finished: () => void = () => {}
  const done = new Promise<void>((r) => (finished = r))
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop()!
    for (const line of lines) {
      if (line === 'done') finished()
      const [kind, tenant, stream, seq, id] = line.split(' ')
      if (kind === 'ack') {
        acked.set(id!, { tenant: tenant!, stream: stream!, seq: Number(seq) })
        firstAck()
      }
    }
  })
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { acked, acking, done, exit, kill: () => child.kill('SIGKILL') }
}

const tenantOf = (i: number): TenantId => (i % 3 === 2 ? 'acme' : 'default') as TenantId

const toError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)))

/** Subscribes in the background; `until(n)` resolves once `n` events have arrived. */
function follow(log: FsEventLog, request: FeedRequest) {
  const stop = new AbortController()
  const got: FeedEvent[] = []
  const waiting: Array<{ n: number; resolve: () => void; reject: (err: unknown) => void }> = []
  let failed: unknown = null
  const running = (async () => {
    for await (const batch of log.feed.subscribe(request, stop.signal)) {
      got.push(...batch)
      for (const w of [...waiting]) if (got.length >= w.n) w.resolve()
    }
  })().catch((err: unknown) => {
    failed = err
    for (const w of waiting) w.reject(err)
  })
  return {
    got,
    until: (n: number) =>
      failed !== null
        ? Promise.reject(toError(failed))
        : got.length >= n
          ? Promise.resolve()
          : new Promise<void>((resolve, reject) => waiting.push({ n, resolve, reject })),
    stop: async () => {
      stop.abort()
      await running
    },
  }
}

/** Every stream's events arrived once, in seq order from 1 to the stream's version; every acknowledged one among them. */
async function expectExactlyOnce(
  log: FsEventLog,
  got: FeedEvent[],
  streams: Array<{ tenant: TenantId; stream: StreamId }>,
  acked: Acked,
) {
  expect(new Set(got.map((e) => e.event.id)).size).toBe(got.length)
  const positions = got.map((e) => e.position)
  expect([...positions].sort()).toEqual(positions)
  for (const { tenant, stream } of streams) {
    const version = await log.version({ tenant, stream })
    const seqs = got.filter((e) => e.event.stream === stream && e.event.tenant === tenant).map((e) => e.event.seq)
    expect(seqs, `${tenant}/${stream}`).toEqual(Array.from({ length: version }, (_, i) => i + 1))
  }
  const delivered = new Map(got.map((e) => [e.event.id as string, e.event.seq]))
  for (const [id, a] of acked) expect(delivered.get(id), `${a.stream} seq ${a.seq}`).toBe(a.seq)
}

async function totalEvents(log: FsEventLog, streams: Array<{ tenant: TenantId; stream: StreamId }>) {
  let n = 0
  for (const s of streams) n += await log.version(s)
  return n
}

describe('the feed across processes', () => {
  it("delivers another process's appends with this process's own, each once and in order, across segment rotations", async () => {
    const dataDir = tempDir()
    const log = openFsEventLog({ dataDir, feedSegmentBytes: 8192, lockIdleMs: 50 })
    const childStreams = [ids.runId(), ids.runId(), ids.runId()]
    const mine = [ids.runId(), ids.runId()]
    const shared = ids.runId() // both processes append to it: its lock passes back and forth
    const sub = follow(log, { after: 'start' })
    const child = startWriter(dataDir, [...childStreams, shared], 40, 8192)
    const acked: Acked = new Map()
    await Promise.all(
      [...mine, shared].map(async (stream) => {
        for (let i = 0; i < 40; i++) {
          const events = [step(i), step(i + 1000)]
          const r = await log.append({ tenant: 'default' as TenantId, stream, expectedVersion: 'any', events })
          events.forEach((e, k) => acked.set(e.id, { tenant: 'default', stream, seq: r.firstSeq + k }))
        }
      }),
    )
    await child.done
    expect(await child.exit).toBe(0)
    for (const [id, a] of child.acked) acked.set(id, a)
    const streams = [
      ...childStreams.map((stream, i) => ({ tenant: tenantOf(i), stream })),
      ...mine.map((stream) => ({ tenant: 'default' as TenantId, stream })),
      { tenant: 'default' as TenantId, stream: shared },
    ]
    const total = await totalEvents(log, streams)
    await sub.until(total)
    await sub.stop()
    expect(sub.got).toHaveLength(total)
    await expectExactlyOnce(log, sub.got, streams, acked)
    // the child's events are delivered as they are stored
    const one = sub.got.find((e) => e.event.stream === childStreams[0])!
    const [stored] = await log.read({
      tenant: 'default' as TenantId,
      stream: childStreams[0]!,
      fromSeq: one.event.seq,
      toSeq: one.event.seq,
    })
    expect(one.event).toEqual(stored)
    expect(readdirSync(join(dataDir, 'feed')).filter((n) => n.endsWith('.feed')).length).toBeGreaterThan(2)
    await log.close()
  })

  it('delivers every acknowledged event exactly once, in seq order per stream, across 20 SIGKILLs of the appender and recovery', async () => {
    const dataDir = tempDir()
    const log = openFsEventLog({ dataDir, feedSegmentBytes: 64 * 1024 })
    const names = [ids.runId(), ids.runId(), ids.runId(), ids.runId()]
    const streams = names.map((stream, i) => ({ tenant: tenantOf(i), stream }))
    const sub = follow(log, { after: 'start' })
    const acked: Acked = new Map()
    for (let i = 0; i < 20; i++) {
      const w = startWriter(dataDir, names, 0, 64 * 1024)
      await w.acking
      // anywhere from its first commits to steady appends: before, inside or after a feed write
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 60)))
      w.kill()
      expect(await w.exit).toBe(null)
      for (const [id, a] of w.acked) acked.set(id, a)
    }
    // the last writer's journal is replayed by the next process to open the data dir
    const recoverer = openFsEventLog({ dataDir })
    await recoverer.recovered()
    await recoverer.close()
    const total = await totalEvents(log, streams)
    expect(total).toBeGreaterThanOrEqual(acked.size)
    await sub.until(total)
    await sub.stop()
    expect(sub.got).toHaveLength(total)
    await expectExactlyOnce(log, sub.got, streams, acked)
    await log.close()
  })

  it("gives back the records a machine crash took from the feed, from the dead writer's journal", async () => {
    const dataDir = tempDir()
    const names = [ids.runId(), ids.runId(), ids.runId()]
    const streams = names.map((stream, i) => ({ tenant: tenantOf(i), stream }))
    const w = startWriter(dataDir, names, 0, 4 * 1024 * 1024, 200)
    await w.acking
    await new Promise((r) => setTimeout(r, 700)) // long enough for periodic fsyncs and their marker
    w.kill()
    await w.exit
    // A machine crash loses what was not fsynced: the feed after the writer's marker may be gone,
    // cut anywhere (a record torn in two), or left as zeros.
    const feedDir = join(dataDir, 'feed')
    const marker = readdirSync(feedDir).find((n) => n.endsWith('.sync'))
    expect(marker).toBeDefined() // recovery looks only past it
    const durable = marker
      ? (JSON.parse(readFileSync(join(feedDir, marker), 'latin1').slice(9).trim()) as { end: number }).end
      : 0
    const segment = join(
      feedDir,
      readdirSync(feedDir)
        .filter((n) => n.endsWith('.feed'))
        .sort()
        .at(-1)!,
    )
    const size = statSync(segment).size
    expect(size).toBeGreaterThan(durable)
    const cut = durable + Math.floor(Math.random() * (size - durable))
    truncateSync(segment, cut)
    appendFileSync(segment, Buffer.alloc(Math.min(700, size - cut)))
    const restored: number[] = []
    const logger = {
      ...silentLogger,
      info: (m: string, c?: Record<string, unknown>) =>
        void (m === 'feed records restored' && restored.push(Number(c?.records))),
    }
    const log = openFsEventLog({ dataDir, logger })
    await log.recovered()
    expect(restored.length).toBe(1)
    expect(restored[0]).toBeGreaterThan(0)
    const total = await totalEvents(log, streams)
    const sub = follow(log, { after: 'start' })
    await sub.until(total)
    await sub.stop()
    expect(sub.got).toHaveLength(total)
    await expectExactlyOnce(log, sub.got, streams, w.acked)
    await log.close()
  })

  it('refuses the position of a record a crash took, even once new records take its place', async () => {
    const dataDir = tempDir()
    const log = openFsEventLog({ dataDir })
    const run = ids.runId()
    await log.append({ tenant: 'default' as TenantId, stream: run, expectedVersion: 0, events: [step(1)] })
    const kept = await log.feed.head()
    await log.append({ tenant: 'default' as TenantId, stream: run, expectedVersion: 1, events: [step(2)] })
    const lost = await log.feed.head()
    await log.close()
    const segment = join(
      dataDir,
      'feed',
      readdirSync(join(dataDir, 'feed')).find((n) => n.endsWith('.feed'))!,
    )
    truncateSync(segment, statSync(segment).size - 20) // the last record, torn
    const again = openFsEventLog({ dataDir })
    const firstError = async (after: string) => {
      const it = again.feed.subscribe({ after: after as never }, AbortSignal.timeout(300))[Symbol.asyncIterator]()
      try {
        await it.next()
        return 'none'
      } catch (err) {
        return (err as { code: string }).code
      }
    }
    expect(await firstError(lost)).toBe('GONE')
    await again.append({ tenant: 'default' as TenantId, stream: run, expectedVersion: 'any', events: [step(3)] })
    expect(await firstError(lost)).toBe('GONE')
    expect(await firstError(kept)).toBe('none')
    await again.close()
  })
})
