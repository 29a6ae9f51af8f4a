import type { EventLog, Leases, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT } from '@shiioo/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { errorCodeOf } from './errors.js'
import { EventFactory } from './events.js'

/** One holder (a process): its leases and the event log its writes go through. */
export interface LeaseHolderHarness {
  leases: Leases
  log: EventLog
}

export interface LeasesHarness {
  /** Two holders on one store, as two processes sharing a data dir (or a database) would be. */
  a: LeaseHolderHarness
  b: LeaseHolderHarness
  /**
   * Makes a's lease on `name` look silent past its TTL, as if a were paused (SIGSTOP) or cut off:
   * the next acquisition by anyone else may take it over. Synchronous, so that nothing renews it
   * before the caller's next step.
   */
  silenceA(tenant: TenantId, name: string): void
  cleanup: () => Promise<void>
}

const T = DEFAULT_TENANT
const OTHER = 'acme' as TenantId

/** The Leases port's contract, with fenced appends. Every adapter runs this against its real backend. */
export function leasesConformance(name: string, factory: () => Promise<LeasesHarness>): void {
  describe(`Leases conformance: ${name}`, () => {
    let h: LeasesHarness
    let f: EventFactory
    beforeEach(async () => {
      h = await factory()
      f = new EventFactory()
    })
    afterEach(async () => {
      await h.cleanup()
    })

    it('is exclusive while held and names its holder; a release lets another holder take it with a greater fence', async () => {
      const first = await h.a.leases.acquire({ tenant: T, name: 'job-1' })
      expect(first).not.toBeNull()
      expect(first!.fence).toBeGreaterThanOrEqual(1)
      expect(await h.b.leases.acquire({ tenant: T, name: 'job-1' })).toBeNull()
      expect(await h.a.leases.acquire({ tenant: T, name: 'job-1' })).toBeNull()
      const holder = await h.b.leases.holder({ tenant: T, name: 'job-1' })
      expect(holder).not.toBeNull()
      expect([typeof holder!.pid, typeof holder!.host, typeof holder!.silentMs, typeof holder!.ttlMs]).toEqual([
        'number',
        'string',
        'number',
        'number',
      ])
      expect(holder!.silentMs).toBeLessThanOrEqual(holder!.ttlMs)
      expect(await h.b.leases.holder({ tenant: T, name: 'job-2' })).toBeNull()
      expect(await first!.renew()).toBe(true)
      await first!.release()
      expect(await h.b.leases.holder({ tenant: T, name: 'job-1' })).toBeNull()
      const second = await h.b.leases.acquire({ tenant: T, name: 'job-1' })
      expect(second!.fence).toBeGreaterThan(first!.fence)
      await second!.release()
      const third = await h.a.leases.acquire({ tenant: T, name: 'job-1' })
      expect(third!.fence).toBeGreaterThan(second!.fence)
      await third!.release({ retire: true })
      expect(await h.b.leases.acquire({ tenant: T, name: 'job-1' })).not.toBeNull()
    })

    it('keeps tenants apart: the same name in two tenants is two leases', async () => {
      const mine = await h.a.leases.acquire({ tenant: T, name: 'shared-name' })
      const theirs = await h.b.leases.acquire({ tenant: OTHER, name: 'shared-name' })
      expect(mine).not.toBeNull()
      expect(theirs).not.toBeNull()
      expect(await h.b.leases.holder({ tenant: T, name: 'shared-name' })).not.toBeNull()
    })

    it('refuses a malformed name with INVALID_INPUT', async () => {
      for (const bad of ['', '../escape', 'a/b', 'x'.repeat(121)]) {
        expect(await errorCodeOf(h.a.leases.acquire({ tenant: T, name: bad }))).toBe('INVALID_INPUT')
      }
    })

    it('lets anyone take over a holder silent past its TTL, with a greater fence; the old holder learns it lost the lease', async () => {
      const told: Error[] = []
      const old = await h.a.leases.acquire({ tenant: T, name: 'run-x', onLost: (reason) => told.push(reason) })
      expect(old).not.toBeNull()
      h.silenceA(T, 'run-x')
      const taken = await h.b.leases.acquire({ tenant: T, name: 'run-x' })
      expect(taken).not.toBeNull()
      expect(taken!.fence).toBeGreaterThan(old!.fence)
      expect(await old!.renew()).toBe(false)
      expect(old!.lost.aborted).toBe(true)
      expect(told.map((e) => (e as { code?: string }).code)).toEqual(['LEASE_LOST'])
      await old!.renew()
      expect(told).toHaveLength(1)
      expect(await taken!.renew()).toBe(true)
      // the old holder's release must not free what the new holder has
      await old!.release()
      expect(await taken!.renew()).toBe(true)
      expect(await h.b.leases.holder({ tenant: T, name: 'run-x' })).not.toBeNull()
    })

    it('refuses appends under a lease that was taken over (LEASE_LOST) and writes nothing; the new holder writes', async () => {
      const run = f.runId()
      const old = await h.a.leases.acquire({ tenant: T, name: run })
      await h.a.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [f.runStarted()], lease: old! })
      h.silenceA(T, run)
      const taken = await h.b.leases.acquire({ tenant: T, name: run })
      expect(taken).not.toBeNull()
      expect(
        await errorCodeOf(
          h.a.log.append({ tenant: T, stream: run, expectedVersion: 1, events: [f.stepStarted('a')], lease: old! }),
        ),
      ).toBe('LEASE_LOST')
      await h.b.log.append({ tenant: T, stream: run, expectedVersion: 1, events: [f.stepStarted('b')], lease: taken! })
      const events = await h.b.log.read({ tenant: T, stream: run })
      expect(events.map((e) => [e.seq, e.type, (e.data as { stepId?: string }).stepId])).toEqual([
        [1, 'run.started', undefined],
        [2, 'step.started', 'b'],
      ])
    })

    it('refuses an append under a released lease, and one under a lease of another tenant or store', async () => {
      const run = f.runId()
      const grant = await h.b.leases.acquire({ tenant: T, name: run })
      await grant!.release()
      expect(
        await errorCodeOf(
          h.b.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [f.runStarted()], lease: grant! }),
        ),
      ).toBe('LEASE_LOST')
      const theirs = await h.b.leases.acquire({ tenant: OTHER, name: run })
      expect(
        await errorCodeOf(
          h.b.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [f.runStarted()], lease: theirs! }),
        ),
      ).toBe('INVALID_INPUT')
      const forged = { tenant: T, name: run, fence: 99, lost: new AbortController().signal } as never
      expect(
        await errorCodeOf(
          h.b.log.append({ tenant: T, stream: run, expectedVersion: 0, events: [f.runStarted()], lease: forged }),
        ),
      ).toBe('INVALID_INPUT')
      expect(await h.b.log.version({ tenant: T, stream: run })).toBe(0)
    })
  })
}
