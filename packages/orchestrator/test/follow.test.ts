import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NewEvent, StoredEvent, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, createIdFactory, newEvent, openFsEventLog, silentLogger } from '@shiioo/core'
import { afterEach, describe, expect, it } from 'vitest'
import { followRun } from '../src/run/follow.js'

const T: TenantId = DEFAULT_TENANT
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Two logs on one data dir: this process's and another's (a `shiioo decide` from another terminal). */
function twoProcesses() {
  const dir = mkdtempSync(join(tmpdir(), 'shiioo-follow-'))
  const here = openFsEventLog({ dataDir: dir, lockIdleMs: 20 })
  const there = openFsEventLog({ dataDir: dir, lockIdleMs: 20 })
  cleanups.push(async () => {
    await here.close()
    await there.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { here, there }
}

const ids = createIdFactory()
const meta = () => ({ id: ids.eventId(), at: new Date(), actor: { kind: 'system' as const, id: 'test' } })
const started = (): NewEvent => newEvent('run.started', { workflow: { name: 'w', hash: 'ab'.repeat(32) } }, meta())
const steps = (n: number): NewEvent[] =>
  Array.from({ length: n }, (_, i) =>
    newEvent('step.started', { stepId: `s${i}`, attempt: 1, idempotencyKey: `k${i}` }, meta()),
  )

function collector() {
  const seen: StoredEvent[] = []
  const waiting: Array<{ n: number; resolve: () => void }> = []
  return {
    seen,
    listener: (events: readonly StoredEvent[]) => {
      seen.push(...events)
      for (const w of [...waiting]) if (seen.length >= w.n) w.resolve()
    },
    until: (n: number) =>
      seen.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ n, resolve })),
  }
}

describe('following a run', () => {
  it("delivers its history, then another process's appends as they land, each once and in order", async () => {
    const { here, there } = twoProcesses()
    const runId = ids.runId()
    const other = ids.runId()
    await there.append({ tenant: T, stream: runId, expectedVersion: 0, events: [started(), ...steps(1)] })
    await there.read({ tenant: T, stream: runId }) // its commits reach the file (else up to 10 ms later)
    const c = collector()
    const follower = followRun(here, silentLogger, { tenant: T, runId }, c.listener)
    await c.until(2)
    await there.append({ tenant: T, stream: other, expectedVersion: 0, events: [started()] })
    await there.append({ tenant: T, stream: runId, expectedVersion: 2, events: steps(1) })
    await here.append({ tenant: T, stream: runId, expectedVersion: 3, events: steps(1) })
    await c.until(4)
    await follower.flush()
    follower.stop()
    expect(c.seen.map((e) => [e.stream, e.seq])).toEqual([
      [runId, 1],
      [runId, 2],
      [runId, 3],
      [runId, 4],
    ])
  })

  it('starts at fromSeq, and stops delivering once stopped', async () => {
    const { here, there } = twoProcesses()
    const runId = ids.runId()
    await there.append({ tenant: T, stream: runId, expectedVersion: 0, events: [started(), ...steps(3)] })
    await there.read({ tenant: T, stream: runId })
    const c = collector()
    const follower = followRun(here, silentLogger, { tenant: T, runId }, c.listener, { fromSeq: 3 })
    await follower.flush()
    expect(c.seen.map((e) => e.seq)).toEqual([3, 4])
    follower.stop()
    await there.append({ tenant: T, stream: runId, expectedVersion: 4, events: steps(1) })
    await there.read({ tenant: T, stream: runId })
    await follower.flush()
    expect(c.seen.map((e) => e.seq)).toEqual([3, 4])
  })
})
