import type {
  EventLog,
  IndexStore,
  ListRunsQuery,
  NewEvent,
  RunId,
  RunListItem,
  StreamFolder,
  TenantId,
} from '@shiioo/core'
import { Projector, RUN_STATUSES } from '@shiioo/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EventFactory } from './events.js'

export interface ProjectionHarness {
  log: EventLog
  /** A new, empty index on the same backend kind (each call a separate one). */
  newIndex: () => Promise<IndexStore>
  /** The log's folder for rebuilds on another thread, if it has one: it must rebuild the same index. */
  newFolder?: () => StreamFolder
  cleanup: () => Promise<void>
}

const TENANTS = ['default', 'acme', 'globex'] as TenantId[]
const WORKFLOWS = ['ingest', 'triage', 'nightly-report', 'refund']

type Plan = {
  tenant: TenantId
  workflow: string
  steps: number
  outcome: 'completed' | 'failed' | 'cancelled' | 'running'
  appends: number
}

/** Deterministic random runs: tenant, workflow, size, ending and how many appends write them. */
function plans(count: number, seed: number): Plan[] {
  const arb = fc.record({
    tenant: fc.constantFrom(...TENANTS),
    workflow: fc.constantFrom(...WORKFLOWS),
    steps: fc.integer({ min: 1, max: 8 }),
    outcome: fc.constantFrom('completed' as const, 'failed' as const, 'cancelled' as const, 'running' as const),
    appends: fc.integer({ min: 1, max: 3 }),
  })
  return fc.sample(arb, { numRuns: count, seed })
}

/** Every answer the index gives, gathered through its query API, paging to the end. */
async function answers(index: IndexStore, runIds: Map<TenantId, RunId[]>) {
  const out: Record<string, unknown> = {}
  const pageAll = async (q: ListRunsQuery) => {
    const items: RunListItem[] = []
    let cursor: string | undefined
    for (;;) {
      const page = await index.listRuns({ ...q, limit: 97, ...(cursor ? { cursor } : {}) })
      items.push(...page.items)
      if (!page.nextCursor) return items
      cursor = page.nextCursor
    }
  }
  for (const tenant of TENANTS) {
    out[`${tenant}/all`] = await pageAll({ tenant })
    for (const status of RUN_STATUSES)
      out[`${tenant}/status=${status}`] = (await pageAll({ tenant, status })).map((r) => r.runId)
    for (const workflow of WORKFLOWS)
      out[`${tenant}/workflow=${workflow}`] = (await pageAll({ tenant, workflow })).map((r) => r.runId)
    out[`${tenant}/window`] = (
      await pageAll({ tenant, startedFrom: '2026-11-24T12:00:10Z', startedBefore: '2026-11-24T12:03:00Z' })
    ).map((r) => r.runId)
    const ids = runIds.get(tenant) ?? []
    const full = await index.getRuns({ tenant, runIds: ids })
    out[`${tenant}/summaries`] = ids.map((id) => full.get(id) ?? null)
  }
  return out
}

/**
 * An index fed live (by `Projector.attach`, event batch by event batch), one rebuilt from zero,
 * and one caught up after missing appends must all answer every query identically.
 */
export function projectionConformance(
  name: string,
  factory: () => Promise<ProjectionHarness>,
  options: { runs: number; seed?: number },
): void {
  describe(`projection conformance: ${name}`, () => {
    it(`answers the same live, rebuilt from zero and caught up, over ${options.runs} generated runs`, async () => {
      const h = await factory()
      const live = await h.newIndex()
      const projector = new Projector({ log: h.log, index: live })
      const detach = projector.attach()
      const f = new EventFactory()
      const runIds = new Map<TenantId, RunId[]>()
      const lagging: Array<() => Promise<unknown>> = []
      try {
        const writes: Array<Promise<unknown>> = []
        for (const [i, p] of plans(options.runs, options.seed ?? 7).entries()) {
          const run = f.runId()
          runIds.set(p.tenant, [...(runIds.get(p.tenant) ?? []), run])
          const events = f.run(p.steps, p.outcome, p.workflow)
          const cut = Math.ceil(events.length / p.appends)
          const parts: NewEvent[][] = []
          for (let k = 0; k < events.length; k += cut) parts.push(events.slice(k, k + cut))
          const write = async (from: number) => {
            let version = from === 0 ? 0 : parts.slice(0, from).flat().length
            for (const part of parts.slice(from)) {
              await h.log.append({ tenant: p.tenant, stream: run, expectedVersion: version, events: part })
              version += part.length
            }
          }
          if (i % 10 === 9 && parts.length > 1) {
            // written in part now; the rest after the live projector is detached (a crash gap)
            writes.push(
              (async () => {
                await h.log.append({ tenant: p.tenant, stream: run, expectedVersion: 0, events: parts[0]! })
              })(),
            )
            lagging.push(() => write(1))
          } else writes.push(write(0))
          if (writes.length >= 64) await Promise.all(writes.splice(0))
        }
        await Promise.all(writes)
        await projector.idle()
        const liveAnswers = await answers(live, runIds)

        const rebuilt = await h.newIndex()
        const r1 = await new Projector({ log: h.log, index: rebuilt }).rebuild()
        expect(r1.failed).toEqual([])
        expect(await answers(rebuilt, runIds)).toEqual(liveAnswers)
        if (h.newFolder) {
          const folder = h.newFolder()
          const parallel = await h.newIndex()
          try {
            const r2 = await new Projector({ log: h.log, index: parallel }).rebuild({ folder })
            expect(r2).toEqual(r1)
            expect(await answers(parallel, runIds)).toEqual(liveAnswers)
          } finally {
            await folder.close()
            await parallel.close()
          }
        }

        // appends the live index never saw: catch-up must bring both to the same answers again
        detach()
        for (const w of lagging) await w()
        await new Projector({ log: h.log, index: live }).catchUp()
        const caughtUp = await answers(live, runIds)
        await new Projector({ log: h.log, index: rebuilt }).catchUp()
        expect(await answers(rebuilt, runIds)).toEqual(caughtUp)
        const fresh = await h.newIndex()
        await new Projector({ log: h.log, index: fresh }).rebuild()
        expect(await answers(fresh, runIds)).toEqual(caughtUp)
        expect(caughtUp).not.toEqual(liveAnswers) // the lagging appends changed answers
        await Promise.all([rebuilt.close(), fresh.close()])
      } finally {
        detach()
        await live.close()
        await h.log.close()
        await h.cleanup()
      }
    }, 300_000)
  })
}
