import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunId, StoredEvent, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, FsBlobStore, openFsEventLog, streamPath, verifyDataDir } from '@shiioo/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { WorkflowDefinition } from '../../src/index.js'
import { Engine, compileWorkflow, foldRunState } from '../../src/index.js'
import { ledgerTools, readLedger } from '../fixtures/crash-tools.mjs'
import { workflow } from './harness.js'

/**
 * Random DAGs with random step outcomes, executed by real processes that are stopped at random
 * points (after a durable event, or right after a side effect reached the disk and before its step
 * was recorded), then finished by a fresh engine. A life ends in one of three ways: SIGKILL; SIGKILL
 * with its identity rewritten to name another host, kernel and pid space (a pod restarted elsewhere:
 * only its lease TTL tells it is gone); or SIGSTOP (a frozen process, taken over after its TTL and
 * woken with SIGCONT once the runs are finished elsewhere: it must write nothing). Every run must end
 * as the definition and outcomes imply, every successful attempt's side effect must happen exactly
 * once, and the log must verify. Each property run drives a batch of cases in one set of processes.
 */

type Outcome = 'ok' | 'retryable' | 'fatal'
interface Case {
  definition: WorkflowDefinition
  outcomes: Record<string, Outcome>
}

const T: TenantId = DEFAULT_TENANT
const RUNNER = join(import.meta.dirname, '..', 'fixtures', 'crash-runner.mjs')
const BATCH = 10
// to chase a failure: CRASH_SEED (fast-check's seed), CRASH_RUNS, CRASH_DEBUG=1 (each life and the
// final engine's warnings on stderr), CRASH_KEEP=1 (keep the data dirs), CRASH_RUNNER_DEBUG=1 (the lives' warnings)
const RUNS = Number(process.env.CRASH_RUNS ?? 30)
const SEED = process.env.CRASH_SEED === undefined ? undefined : Number(process.env.CRASH_SEED)
/** The lives' lease TTL: short, so that a frozen or foreign life is taken over quickly. */
const LEASE_TTL_MS = 700

const caseArb = fc
  .record({
    size: fc.integer({ min: 2, max: 7 }),
    edges: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 12 }),
    kinds: fc.array(fc.constantFrom('tool', 'tool', 'tool', 'transform'), { minLength: 7, maxLength: 7 }),
    whens: fc.array(fc.constantFrom(undefined, undefined, undefined, 'true', 'false'), { minLength: 7, maxLength: 7 }),
    attempts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 7, maxLength: 7 }),
    outcomes: fc.array(fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'retryable', 'fatal'), {
      minLength: 21,
      maxLength: 21,
    }),
  })
  .map(({ size, edges, kinds, whens, attempts, outcomes }) => {
    const ids = Array.from({ length: size }, (_, i) => `s${i}`)
    const needs = ids.map(() => new Set<string>())
    for (const [a, b] of edges) {
      const from = a % size
      const to = b % size
      if (from < to) needs[to]!.add(ids[from]!)
    }
    const script: Record<string, Outcome> = {}
    ids.forEach((id, i) => {
      for (let attempt = 1; attempt <= 3; attempt++) script[`${id}#${attempt}`] = outcomes[i * 3 + attempt - 1]!
    })
    return {
      spec: ids.map((id, i) => ({
        id,
        needs: [...needs[i]!],
        kind: kinds[i]!,
        when: whens[i],
        maxAttempts: attempts[i]!,
      })),
      script,
    }
  })

type ArbCase = typeof caseArb extends fc.Arbitrary<infer A> ? A : never

function toCase(c: ArbCase, index: number): Case {
  const definition = workflow({
    name: 'crash-case',
    steps: c.spec.map((s) => ({
      id: s.id,
      needs: s.needs,
      ...(s.when ? { when: s.when } : {}),
      ...(s.kind === 'tool'
        ? {
            kind: 'tool' as const,
            tool: 'test.effect',
            input: { caseIndex: index },
            retry: { maxAttempts: s.maxAttempts, backoff: { initial: 0 } },
          }
        : { kind: 'transform' as const, output: { from: s.id } }),
    })),
  })
  return { definition, outcomes: c.script }
}

/** The final state the definition and the scripted outcomes imply. */
function expected(c: Case): {
  status: 'completed' | 'failed'
  steps: Record<string, { status: string; attempt: number }>
} {
  const compiled = compileWorkflow(c.definition)
  const steps: Record<string, { status: string; attempt: number }> = {}
  for (const id of compiled.order) {
    const step = compiled.steps.get(id)!.step
    if (compiled.steps.get(id)!.dependencies.some((d) => steps[d]!.status !== 'completed')) {
      steps[id] = { status: 'skipped', attempt: 0 }
    } else if (step.when === 'false') {
      steps[id] = { status: 'skipped', attempt: 0 }
    } else if (step.kind === 'transform') {
      steps[id] = { status: 'completed', attempt: 1 }
    } else {
      let attempt = 1
      for (;;) {
        const o = c.outcomes[`${id}#${attempt}`]
        if (o === 'ok') {
          steps[id] = { status: 'completed', attempt }
          break
        }
        if (o === 'fatal' || attempt >= step.retry.maxAttempts) {
          steps[id] = { status: 'failed', attempt }
          break
        }
        attempt++
      }
    }
  }
  return { status: Object.values(steps).some((s) => s.status === 'failed') ? 'failed' : 'completed', steps }
}

interface Life {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
  pid: number
  /** Set when the life froze itself (SIGSTOP): it is still there, to be woken later. */
  frozen: ChildProcess | null
}

function life(jobFile: string): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, jobFile], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      if (/^paused$/m.test(stderr)) resolve({ code: null, signal: 'SIGSTOP', stderr, pid: child.pid!, frozen: child })
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, pid: child.pid!, frozen: null }))
  })
}

/** Rewrites a dead life's identity so that it names a host, kernel and pid space this machine cannot ask. */
function moveToAnotherHost(dataDir: string, pid: number): void {
  const locks = join(dataDir, 'locks')
  for (const name of readdirSync(locks)) {
    if (!name.endsWith('.owner')) continue
    const owner = JSON.parse(readFileSync(join(locks, name), 'utf8')) as { pid: number }
    if (owner.pid !== pid) continue
    // written in place: every lock linked to it says the same, with a fresh heartbeat
    writeFileSync(
      join(locks, name),
      JSON.stringify({
        ...owner,
        pid: 1,
        host: 'elsewhere',
        boot: 'another-kernel',
        pidns: 'pid:[2]',
        ttlMs: LEASE_TTL_MS,
      }),
    )
  }
}

/** Wakes a frozen life and waits (a bounded time) for it to end: it finds its leases lost. */
async function wake(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGCONT')
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  await exited
  clearTimeout(timer)
}

const GZIP_HEAD = Buffer.from([0x1f, 0x8b, 0x08])

/**
 * Damages a finished run's stream file as `damage` says, then asks a fresh engine to resume it and
 * to start it again (same idempotency key): both refuse with DATA_CORRUPTED, no tool runs again,
 * the file is left as the damage left it, and verify names the run and a seq.
 */
async function damaged(
  dataDir: string,
  cases: readonly Case[],
  runIds: readonly RunId[],
  damage: { run: number; kind: string; at: number },
): Promise<void> {
  const i = damage.run % runIds.length
  const runId = runIds[i]!
  const path = streamPath(dataDir, T, runId)
  const buf = readFileSync(path)
  const last = buf.lastIndexOf(GZIP_HEAD)
  if (damage.kind === 'flip') {
    // in the last record's data, once taken for a torn tail: past its gzip header (whose time and
    // OS bytes no checksum covers) and its stored block's header (whose padding bits mean nothing),
    // before the last data byte (which may hold padding bits too) and the trailer
    const at = last + 15 + Math.floor(damage.at * (buf.length - last - 24))
    buf[at]! ^= 0x10
    writeFileSync(path, buf)
  } else if (damage.kind === 'cut mid-file') truncateSync(path, 1 + Math.floor(damage.at * (buf.length - 1)))
  else if (damage.kind === 'cut at a boundary') truncateSync(path, last)
  else appendFileSync(path, buf.subarray(last)) // a well-formed copy of the last record
  const bytes = readFileSync(path)
  const ledger = readLedger(dataDir)
  const log = openFsEventLog({ dataDir })
  const blobs = new FsBlobStore({ dataDir })
  const engine = new Engine({ log, blobs, tools: ledgerTools(dataDir, cases), leases: log.leases })
  try {
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      )
    expect(await code(engine.resume(T, runId)), damage.kind).toBe('DATA_CORRUPTED')
    const again = engine.start({ definition: cases[i]!.definition, idempotencyKey: `case-${i}` })
    expect(await code(again), damage.kind).toBe('DATA_CORRUPTED')
    const report = await verifyDataDir({ log, blobs })
    expect(report.problems.map((p) => p.id)).toEqual([runId])
    expect(report.problems[0]!.seq, damage.kind).toBeGreaterThan(0)
  } finally {
    await engine.close()
    await log.close()
  }
  expect(readLedger(dataDir)).toEqual(ledger)
  expect(readFileSync(path).equals(bytes), damage.kind).toBe(true)
}

describe('engine crash property (real SIGKILLs)', () => {
  it(`ends every run as its spec implies, with side effects exactly once, over ${RUNS * BATCH} random cases`, async () => {
    let kills = 0
    let pauses = 0
    let moves = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(caseArb, { minLength: BATCH, maxLength: BATCH }),
        fc.array(
          fc.record({
            mode: fc.constantFrom('event', 'effect'),
            n: fc.integer({ min: 1, max: 60 }),
            end: fc.constantFrom('kill', 'kill', 'move', 'pause'),
          }),
          { minLength: 1, maxLength: 2 },
        ),
        fc.record({
          run: fc.nat(),
          kind: fc.constantFrom('flip', 'cut mid-file', 'cut at a boundary', 'record appended'),
          at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        }),
        async (arbCases, crashes, damage) => {
          const dataDir = mkdtempSync(join(tmpdir(), 'shiioo-crash-prop-'))
          const frozen: ChildProcess[] = []
          try {
            const cases = arbCases.map((c, i) => toCase(c, i))
            for (const [i, crash] of crashes.entries()) {
              const jobFile = join(dataDir, `job-${i}.json`)
              const kill = { mode: crash.mode, n: crash.n, pause: crash.end === 'pause' }
              writeFileSync(jobFile, JSON.stringify({ dataDir, cases, kill, leaseTtlMs: LEASE_TTL_MS }))
              const r = await life(jobFile)
              if (process.env.CRASH_DEBUG) console.error('life', i, crash, r.code, r.signal, dataDir)
              if (r.frozen) {
                pauses++
                frozen.push(r.frozen)
              } else if (r.signal === 'SIGKILL') {
                kills++
                if (crash.end === 'move') {
                  moveToAnotherHost(dataDir, r.pid)
                  moves++
                }
              } else if (r.code !== 0) throw new Error(`crash runner failed (${r.code} ${r.signal}): ${r.stderr}`)
            }
            // the last life: a fresh engine in this process finishes whatever is left
            const debug = process.env.CRASH_DEBUG
              ? {
                  debug: () => {},
                  info: (m: string, c?: object) => console.error('INFO', m, JSON.stringify(c)),
                  warn: (m: string, c?: object) => console.error('WARN', m, JSON.stringify(c)),
                  error: (m: string, c?: object) => console.error('ERROR', m, JSON.stringify(c)),
                  child() {
                    return this
                  },
                }
              : undefined
            const log = openFsEventLog({ dataDir, ...(debug ? { logger: debug } : {}) })
            const blobs = new FsBlobStore({ dataDir })
            // the killed processes' run leases are stale: this engine must break them to finish the runs
            const engine = new Engine({
              log,
              blobs,
              tools: ledgerTools(dataDir, cases),
              leases: log.leases,
              ...(debug ? { logger: debug } : {}),
            })
            const runIds: RunId[] = []
            try {
              for (const [i, c] of cases.entries()) {
                const { runId } = await engine.start({ definition: c.definition, idempotencyKey: `case-${i}` })
                runIds.push(runId)
                if (process.env.CRASH_DEBUG) console.error('waiting', i, runId)
                await engine.wait(T, runId)
              }
              const completedKeys = new Set<string>()
              for (const [i, c] of cases.entries()) {
                const events: StoredEvent[] = await log.read({ tenant: T, stream: runIds[i]! })
                expect(new Set(events.map((e) => e.id)).size).toBe(events.length)
                const state = foldRunState(events)
                const want = expected(c)
                expect(state.status).toBe(want.status)
                for (const [id, s] of Object.entries(want.steps)) {
                  expect({
                    id,
                    status: state.steps[id]?.status ?? 'pending',
                    attempt: state.steps[id]?.attempt ?? 0,
                  }).toEqual({ id, ...s })
                }
                for (const e of events) {
                  if (e.type !== 'step.completed') continue
                  const step = c.definition.steps.find((s) => s.id === e.data.stepId)!
                  if (step.kind === 'tool') completedKeys.add(`${runIds[i]}:${e.data.stepId}:${e.data.attempt}`)
                }
              }
              const ledger = readLedger(dataDir)
              expect(new Set(ledger).size).toBe(ledger.length)
              expect(new Set(ledger)).toEqual(completedKeys)
              // the frozen lives wake to runs finished elsewhere: they must change nothing
              const before = await Promise.all(runIds.map((id) => log.version({ tenant: T, stream: id })))
              for (const child of frozen.splice(0)) await wake(child)
              expect(await Promise.all(runIds.map((id) => log.version({ tenant: T, stream: id })))).toEqual(before)
              expect(readLedger(dataDir)).toEqual(ledger)
              const report = await verifyDataDir({ log, blobs })
              expect(report.problems).toEqual([])
            } finally {
              await engine.close()
              await log.close()
            }
            // then damage to one finished run's acknowledged records: reported, never cut, never run again
            await damaged(dataDir, cases, runIds, damage)
          } finally {
            for (const child of frozen) child.kill('SIGKILL')
            if (!process.env.CRASH_KEEP) rmSync(dataDir, { recursive: true, force: true })
          }
        },
      ),
      { numRuns: RUNS, endOnFailure: true, ...(SEED === undefined ? {} : { seed: SEED }) },
    )
    expect(kills).toBeGreaterThan(RUNS / 4)
    expect(pauses).toBeGreaterThan(0)
    expect(moves).toBeGreaterThan(0)
  }, 600_000)
})
