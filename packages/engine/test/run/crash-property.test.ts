import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunId, StoredEvent, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, FsBlobStore, FsLeases, openFsEventLog, verifyDataDir } from '@shiioo/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { WorkflowDefinition } from '../../src/index.js'
import { Engine, compileWorkflow, foldRunState } from '../../src/index.js'
import { ledgerTools, readLedger } from '../fixtures/crash-tools.mjs'
import { workflow } from './harness.js'

/**
 * Random DAGs with random step outcomes, executed by real processes that are killed with SIGKILL
 * at random points (after a durable event, or right after a side effect reached the disk and
 * before its step was recorded), then finished by a fresh engine. Every run must end as the
 * definition and outcomes imply, every successful attempt's side effect must happen exactly once,
 * and the log must verify. Each property run drives a batch of cases in one set of processes.
 */

type Outcome = 'ok' | 'retryable' | 'fatal'
interface Case {
  definition: WorkflowDefinition
  outcomes: Record<string, Outcome>
}

const T: TenantId = DEFAULT_TENANT
const RUNNER = join(import.meta.dirname, '..', 'fixtures', 'crash-runner.mjs')
const BATCH = 10
const RUNS = 30

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

function life(jobFile: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, jobFile], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }))
  })
}

describe('engine crash property (real SIGKILLs)', () => {
  it(`ends every run as its spec implies, with side effects exactly once, over ${RUNS * BATCH} random cases`, async () => {
    let kills = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(caseArb, { minLength: BATCH, maxLength: BATCH }),
        fc.array(fc.record({ mode: fc.constantFrom('event', 'effect'), n: fc.integer({ min: 1, max: 60 }) }), {
          minLength: 1,
          maxLength: 2,
        }),
        async (arbCases, crashes) => {
          const dataDir = mkdtempSync(join(tmpdir(), 'shiioo-crash-prop-'))
          try {
            const cases = arbCases.map((c, i) => toCase(c, i))
            for (const [i, kill] of crashes.entries()) {
              const jobFile = join(dataDir, `job-${i}.json`)
              writeFileSync(jobFile, JSON.stringify({ dataDir, cases, kill }))
              const r = await life(jobFile)
              if (r.signal === 'SIGKILL') kills++
              else if (r.code !== 0) throw new Error(`crash runner failed (${r.code} ${r.signal}): ${r.stderr}`)
            }
            // the last life: a fresh engine in this process finishes whatever is left
            const log = openFsEventLog({ dataDir })
            const blobs = new FsBlobStore({ dataDir })
            // the killed processes' run leases are stale: this engine must break them to finish the runs
            const engine = new Engine({
              log,
              blobs,
              tools: ledgerTools(dataDir, cases),
              leases: new FsLeases({ dataDir }),
            })
            const runIds: RunId[] = []
            try {
              for (const [i, c] of cases.entries()) {
                const { runId } = await engine.start({ definition: c.definition, idempotencyKey: `case-${i}` })
                runIds.push(runId)
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
              const report = await verifyDataDir({ log, blobs })
              expect(report.problems).toEqual([])
            } finally {
              await engine.close()
              await log.close()
            }
          } finally {
            rmSync(dataDir, { recursive: true, force: true })
          }
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    )
    expect(kills).toBeGreaterThan(RUNS / 2)
  }, 600_000)
})
