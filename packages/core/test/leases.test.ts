import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import type { StreamId, TenantId } from '../src/index.js'
import { FsBlobStore, createIdFactory, newEvent, openFsEventLog, streamPath, verifyDataDir } from '../src/index.js'
import { LockIdentity, declareGone } from '../src/fs/lock-identity.js'
import type { LockOwner } from '../src/fs/owners.js'
import { judgeOwner, selfIdentity } from '../src/fs/owners.js'

const dirs: string[] = []
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) c.kill('SIGKILL')
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }))
})
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'shiioo-leases-'))
  dirs.push(d)
  return d
}
const T = 'default' as TenantId
const writer = join(import.meta.dirname, 'fixtures', 'pause-writer.mjs')
let streams = 0
/** A control stream: these tests write step events, which a run stream would refuse before run.started. */
const controlStream = () => `lease-test-${++streams}` as StreamId
const ids = createIdFactory()
const actor = { kind: 'system' as const, id: 'lease-test' }
const ev = (i: number) =>
  newEvent(
    'step.started',
    { stepId: `p${i}`, attempt: 1, idempotencyKey: `p${i}` },
    { id: ids.eventId(), at: new Date(), actor },
  )

function owner(extra: Partial<LockOwner>): LockOwner {
  return { ...selfIdentity(), nonce: 'feedfacecafebeef', ttlMs: 1000, ...extra }
}

/** Starts a process whose child exits and is never reaped: a zombie, as in a container whose PID 1 does not wait. */
async function zombie(): Promise<number> {
  const sh = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] })
  children.push(sh)
  const pid = await new Promise<number>((resolve) =>
    sh.stdout.once('data', (d: Buffer) => resolve(Number(d.toString()))),
  )
  for (let i = 0; i < 200; i++) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return pid
    await sleep(10)
  }
  throw new Error(`process ${pid} did not become a zombie`)
}

describe('lease holders: who is gone', () => {
  const now = Date.now()

  it('counts a zombie, a dead pid and a reused pid on this kernel as gone at once, whatever the heartbeat', async () => {
    expect(judgeOwner(owner({ pid: await zombie() }), now, true, now)).toBe('zombie process')
    const exited = spawn('true')
    await new Promise((r) => exited.on('exit', r))
    expect(judgeOwner(owner({ pid: exited.pid! }), now, true, now)).toBe('no such process')
    expect(judgeOwner(owner({ start: '1' }), now, true, now)).toBe('pid reused by another process')
    expect(judgeOwner(owner({}), now, true, now)).toBeNull()
  })

  it('judges a holder of another host, kernel or pid namespace by its heartbeat alone', () => {
    const strangers = [
      owner({ host: 'pod-7f9c', boot: 'another-boot', pid: 1 }),
      owner({ pidns: 'pid:[1]', pid: 999_999 }), // a container on this host: its pid means nothing here
      owner({ boot: 'rebooted', pid: 999_999 }),
    ]
    for (const o of strangers) {
      expect(judgeOwner(o, now - 500, true, now)).toBeNull()
      expect(judgeOwner(o, now - 1500, true, now)).toBe('heartbeat expired')
    }
  })

  it('counts a holder whose identity file is gone as declared gone', () => {
    expect(judgeOwner(owner({}), now, false, now)).toBe('declared gone')
  })
})

describe('lock identity: heartbeat and loss', () => {
  it('renews its locks by touching its identity file, and learns when another process declared it gone', async () => {
    const dir = tempDir()
    const id = new LockIdentity(join(dir, 'locks'), { ttlMs: 300 })
    const file = id.path()!
    const past = (Date.now() - 60_000) / 1000
    utimesSync(file, past, past)
    await sleep(250) // the heartbeat runs every third of the TTL
    expect(Date.now() - lstatSync(file).mtimeMs).toBeLessThan(300)
    expect(id.lost.aborted).toBe(false)
    expect(declareGone(join(dir, 'locks'), id.owner)).toBe(true)
    expect(() => id.assertHeld()).toThrow(/lost its leases/)
    expect(id.lost.aborted).toBe(true)
    expect((id.lost.reason as { code: string }).code).toBe('LEASE_LOST')
    expect(id.renew()).toBe(false)
    id.dispose()
  })
})

describe('taking over a gone writer', () => {
  it("replays a paused writer's acknowledged commits before breaking its stream lock, then refuses its writes", async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    // the writer's commits wait for their stream file far longer than the test: they are in its journal only
    const paused = openFsEventLog({ dataDir, leaseTtlMs: 1000, writeBehindMs: 600_000 })
    const acked = [ev(0), ev(1)]
    await paused.append({ tenant: T, stream, expectedVersion: 0, events: [acked[0]!] })
    await paused.append({ tenant: T, stream, expectedVersion: 1, events: [acked[1]!] })
    expect(readFileSync(streamPath(dataDir, T, stream)).length).toBe(0)
    // silence it: its stream lock links to its identity, whose mtime is its heartbeat
    const lock = `${streamPath(dataDir, T, stream)}.lock`
    const past = (Date.now() - 5000) / 1000
    utimesSync(lock, past, past)
    const other = openFsEventLog({ dataDir })
    const r = await other.append({ tenant: T, stream, expectedVersion: 'any', events: [ev(2)] })
    expect(r.firstSeq).toBe(3)
    const read = await other.read({ tenant: T, stream })
    expect(read.map((e) => e.id)).toEqual([acked[0]!.id, acked[1]!.id, read[2]!.id])
    // the paused writer wakes: nothing it writes is acknowledged, nothing lands in the stream
    const late = await paused
      .append({ tenant: T, stream, expectedVersion: 2, events: [ev(3)] })
      .catch((e: { code: string }) => e.code)
    expect(late).toBe('LEASE_LOST')
    expect(paused.lost.aborted).toBe(true)
    await paused.close()
    expect((await other.read({ tenant: T, stream })).length).toBe(3)
    const report = await verifyDataDir({ log: other, blobs: new FsBlobStore({ dataDir }) })
    expect(report.problems).toEqual([])
    await other.close()
  })

  it("a paused writer's feed records are written by its taker, and the writer writes none once it wakes", async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    // the second commit's record waits (a busy spell shares a write per delay): it is frozen in between
    const paused = openFsEventLog({ dataDir, leaseTtlMs: 1000, writeBehindMs: 600_000, feedWriteDelayMs: 600_000 })
    const acked = [ev(0), ev(1)]
    await paused.append({ tenant: T, stream, expectedVersion: 0, events: [acked[0]!] })
    await paused.append({ tenant: T, stream, expectedVersion: 1, events: [acked[1]!] })
    const lock = `${streamPath(dataDir, T, stream)}.lock`
    const past = (Date.now() - 5000) / 1000
    utimesSync(lock, past, past)
    const other = openFsEventLog({ dataDir })
    const mine = ev(2)
    await other.append({ tenant: T, stream, expectedVersion: 'any', events: [mine] })
    // it wakes and writes what it had pending
    paused.feed.writer!.flushNow()
    await paused.close()
    await other.close()
    const reader = openFsEventLog({ dataDir, readOnly: true })
    const seen: string[] = []
    const stop = AbortSignal.timeout(500)
    try {
      for await (const batch of reader.feed.subscribe({ tenant: T, streams: [stream], after: 'start' }, stop))
        seen.push(...batch.map((e) => e.event.id))
    } catch (err) {
      if (!stop.aborted) throw err
    }
    expect(seen).toEqual([acked[0]!.id, acked[1]!.id, mine.id])
    await reader.close()
  })

  it('a paused writer that wakes and closes at once leaves the files its taker owns alone', async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    const paused = openFsEventLog({ dataDir, leaseTtlMs: 1000, writeBehindMs: 600_000 })
    await paused.append({ tenant: T, stream, expectedVersion: 0, events: [ev(0)] })
    await sleep(300) // its next journal segment is made meanwhile
    const lock = `${streamPath(dataDir, T, stream)}.lock`
    const past = (Date.now() - 5000) / 1000
    utimesSync(lock, past, past)
    const other = openFsEventLog({ dataDir })
    await other.append({ tenant: T, stream, expectedVersion: 'any', events: [ev(1)] })
    // a stop signal was waiting while it was paused: it closes before its heartbeat notices anything
    await paused.close()
    expect(paused.lost.aborted).toBe(true)
    await other.append({ tenant: T, stream, expectedVersion: 2, events: [ev(2)] })
    expect((await other.read({ tenant: T, stream })).map((e) => e.seq)).toEqual([1, 2, 3])
    expect((await verifyDataDir({ log: other, blobs: new FsBlobStore({ dataDir }) })).problems).toEqual([])
    await other.close()
  })

  it("keeps a killed writer's acknowledged commits when a live process breaks its stream lock", async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    const child = spawn(process.execPath, [writer, dataDir, stream, '15000', '600000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.push(child)
    const lines = await linesUntil(child, (all) => all.filter((l) => l.startsWith('ack')).length >= 20)
    // opened while the writer runs: its recovery at open leaves the live writer's journal alone
    const live = openFsEventLog({ dataDir })
    expect((await live.recovered())?.owners).toBe(0)
    child.kill('SIGKILL')
    await new Promise((r) => child.on('exit', r))
    // the commits wait for their stream file in the dead writer's journal: breaking its lock replays them first
    const r = await live.append({ tenant: T, stream, expectedVersion: 'any', events: [ev(99)] })
    const read = await live.read({ tenant: T, stream })
    for (const id of lines.filter((l) => l.startsWith('ack')).map((l) => l.split(' ')[2]!))
      expect(read.some((e) => e.id === id)).toBe(true)
    expect(r.firstSeq).toBe(read.length)
    expect(read.map((e) => e.seq)).toEqual(read.map((_, i) => i + 1))
    await live.close()
  })

  it('a writer SIGSTOPped past its TTL is taken over; after SIGCONT its appends are refused and none lands', async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    const setup = openFsEventLog({ dataDir })
    await setup.append({ tenant: T, stream, expectedVersion: 0, events: [ev(0)] })
    await setup.close()
    const taker = openFsEventLog({ dataDir })
    const child = spawn(process.execPath, [writer, dataDir, stream, '1000', '10'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.push(child)
    const out: string[] = []
    await linesUntil(child, (all) => all.filter((l) => l.startsWith('ack')).length >= 30, out)
    child.kill('SIGSTOP')
    await sleep(1500)
    // the child holds the stream lock and its heartbeat is silent past its TTL: it is taken over
    const mine = ev(1000)
    const r = await taker.append({ tenant: T, stream, expectedVersion: 'any', events: [mine] })
    child.kill('SIGCONT')
    await linesUntil(child, (all) => all.some((l) => l.startsWith('refused')), out)
    const refusal = out.find((l) => l.startsWith('refused'))!
    expect(refusal.split(' ')[1]).toBe('LEASE_LOST')
    child.kill('SIGKILL')
    await new Promise((res) => child.on('exit', res))
    const read = await taker.read({ tenant: T, stream })
    const acked = out.filter((l) => l.startsWith('ack')).map((l) => l.split(' ')[2]!)
    for (const id of acked) expect(read.some((e) => e.id === id)).toBe(true)
    expect(read.find((e) => e.id === mine.id)!.seq).toBe(r.firstSeq)
    expect(read.some((e) => e.id === refusal.split(' ')[2])).toBe(false)
    expect(read.map((e) => e.seq)).toEqual(read.map((_, i) => i + 1))
    // nothing the woken process does later reaches the stream either
    const reopened = openFsEventLog({ dataDir })
    expect((await reopened.read({ tenant: T, stream })).length).toBe(read.length)
    expect((await verifyDataDir({ log: reopened, blobs: new FsBlobStore({ dataDir }) })).problems).toEqual([])
    await reopened.close()
    await taker.close()
  }, 30_000)

  it('takes over from owners that name another host only once their heartbeat is older than their TTL', async () => {
    const dataDir = tempDir()
    const stream = controlStream()
    const child = spawn(process.execPath, [writer, dataDir, stream, '15000', '600000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.push(child)
    const lines = await linesUntil(child, (all) => all.filter((l) => l.startsWith('ack')).length >= 5)
    child.kill('SIGKILL')
    await new Promise((r) => child.on('exit', r))
    // as if the writer ran in another pod on the same volume: a host, kernel and pid space this one cannot ask
    const locks = join(dataDir, 'locks')
    const idFile = join(
      locks,
      readdirSync(locks).find((n) => n.endsWith('.owner'))!,
    )
    const o = JSON.parse(readFileSync(idFile, 'utf8')) as LockOwner
    writeFileSync(
      idFile,
      JSON.stringify({ ...o, host: 'old-pod', boot: 'other-kernel', pidns: 'pid:[7]', pid: 1, ttlMs: 800 }),
    )
    const fresh = openFsEventLog({ dataDir, lockTimeoutMs: 300 })
    const blocked = await fresh
      .append({ tenant: T, stream, expectedVersion: 'any', events: [ev(1)] })
      .catch((e: { code: string; message: string }) => `${e.code} ${e.message}`)
    expect(blocked).toMatch(/^UNAVAILABLE .*locked by process 1 on old-pod/)
    await sleep(900)
    const r = await fresh.append({ tenant: T, stream, expectedVersion: 'any', events: [ev(2)] })
    const read = await fresh.read({ tenant: T, stream })
    for (const id of lines.filter((l) => l.startsWith('ack')).map((l) => l.split(' ')[2]!))
      expect(read.some((e) => e.id === id)).toBe(true)
    expect(r.firstSeq).toBe(read.length)
    expect(existsSync(idFile)).toBe(false) // declared gone
    await fresh.close()
  })
})

async function linesUntil(
  child: ChildProcess,
  done: (lines: string[]) => boolean,
  into: string[] = [],
): Promise<string[]> {
  let buffered = ''
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString()
      const parts = buffered.split('\n')
      buffered = parts.pop()!
      into.push(...parts)
      if (done(into)) {
        child.stdout!.off('data', onData)
        resolve(into)
      }
    }
    child.stdout!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before the expected output`)))
  })
}
