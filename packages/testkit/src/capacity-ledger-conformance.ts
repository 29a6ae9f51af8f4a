import type { CapacityLedger, LedgerLimits, LedgerReservation } from '@shiioo/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

export interface CapacityLedgerHarness {
  /** Two users of one ledger, as two processes on one data dir (the same object when it is one process's). */
  a: CapacityLedger
  b: CapacityLedger
  cleanup: () => Promise<void>
}

const T0 = Date.UTC(2027, 0, 5, 10, 0, 0)
const SLACK = 1000
const WINDOW = 60_000 + SLACK

/** The CapacityLedger port's contract. Every adapter runs this against its real backend. */
export function capacityLedgerConformance(name: string, factory: () => Promise<CapacityLedgerHarness>): void {
  describe(`CapacityLedger conformance: ${name}`, () => {
    let h: CapacityLedgerHarness
    beforeEach(async () => {
      h = await factory()
    })
    afterEach(async () => {
      await h.cleanup()
    })

    const reserve = (l: CapacityLedger, now: number, tokens: number, limits: LedgerLimits = { requestsPerMinute: 3 }) =>
      l.reserve({ source: 's', now, tokens, limits, slackMs: SLACK })

    it('admits requests up to the limit across both users, then says when the oldest leaves', async () => {
      expect((await reserve(h.a, T0, 10)).ok).toBe(true)
      expect((await reserve(h.b, T0 + 10, 10)).ok).toBe(true)
      expect((await reserve(h.a, T0 + 20, 10)).ok).toBe(true)
      expect(await reserve(h.b, T0 + 30, 10)).toEqual({ ok: false, at: T0 + WINDOW })
      expect((await reserve(h.b, T0 + WINDOW, 10)).ok).toBe(true)
      // sources are apart
      expect(
        (
          await h.a.reserve({
            source: 'other',
            now: T0 + 40,
            tokens: 1,
            limits: { requestsPerMinute: 1 },
            slackMs: SLACK,
          })
        ).ok,
      ).toBe(true)
    })

    it('counts tokens per minute, and a settlement frees what a call did not use', async () => {
      const limits = { tokensPerMinute: 1000 }
      const first = await reserve(h.a, T0, 600, limits)
      expect(first.ok).toBe(true)
      expect(await reserve(h.b, T0 + 1, 600, limits)).toEqual({ ok: false, at: T0 + WINDOW })
      await h.a.settle({
        source: 's',
        reservation: (first as { reservation: LedgerReservation }).reservation,
        tokens: 100,
      })
      expect((await reserve(h.b, T0 + 2, 600, limits)).ok).toBe(true)
      const u = await h.b.usage({ source: 's', now: T0 + 3, slackMs: SLACK })
      expect(u.tokens).toBe(700)
      expect(u.requests).toBe(2)
      expect(() => reserve(h.a, T0 + 4, 2000, limits)).not.toThrow()
      expect(await reserve(h.a, T0 + 4, 2000, limits)).toEqual({ ok: false, at: Infinity })
    })

    it('counts tokens per day, settled too', async () => {
      const limits = { tokensPerDay: 1000 }
      const r = await reserve(h.a, T0, 900, limits)
      expect(r.ok).toBe(true)
      const later = T0 + 3_600_000
      expect((await reserve(h.b, later, 200, limits)).ok).toBe(false)
      await h.a.settle({ source: 's', reservation: (r as { reservation: LedgerReservation }).reservation, tokens: 500 })
      expect((await reserve(h.b, later, 200, limits)).ok).toBe(true)
      expect((await h.a.usage({ source: 's', now: later, slackMs: SLACK })).dayTokens).toBe(700)
    })

    it('a cooldown one user observed holds the other back', async () => {
      await h.a.observe({ source: 's', now: T0, slackMs: SLACK, coolUntil: T0 + 5000 })
      expect(await reserve(h.b, T0 + 1, 1)).toEqual({ ok: false, at: T0 + 5000 })
      expect((await reserve(h.b, T0 + 5000, 1)).ok).toBe(true)
      expect((await h.b.usage({ source: 's', now: T0 + 5000, slackMs: SLACK })).coolUntil).toBe(T0 + 5000)
    })

    it('adopts a lower limit the vendor announces, and what it counted that the ledger did not', async () => {
      const limits = { requestsPerMinute: 100, tokensPerMinute: 100_000 }
      expect((await reserve(h.a, T0, 10, limits)).ok).toBe(true)
      // the vendor allows 5 a minute and has seen 4 (3 from a client we do not know of), resetting in 30 s
      await h.a.observe({
        source: 's',
        now: T0 + 100,
        slackMs: SLACK,
        requests: { limit: 5, remaining: 1, resetAt: T0 + 30_100 },
        tokens: { limit: 50_000, remaining: 49_990, resetAt: T0 + 1000 },
      })
      const u = await h.b.usage({ source: 's', now: T0 + 100, slackMs: SLACK })
      expect(u.vendorLimits).toEqual({ requestsPerMinute: 5, tokensPerMinute: 50_000 })
      expect(u.requests).toBe(4)
      expect((await reserve(h.b, T0 + 200, 10, limits)).ok).toBe(true)
      const refused = await reserve(h.b, T0 + 300, 10, limits)
      // the 3 the vendor counted leave at its reset; then 3 of 5 are in use
      expect(refused).toEqual({ ok: false, at: T0 + 30_100 })
      expect((await reserve(h.a, T0 + 30_100, 10, limits)).ok).toBe(true)
    })

    it('a vendor count lower than the ledger changes nothing (calls on their way are not in it yet)', async () => {
      for (let i = 0; i < 3; i++) expect((await reserve(h.a, T0 + i, 1)).ok).toBe(true)
      await h.b.observe({
        source: 's',
        now: T0 + 5,
        slackMs: SLACK,
        requests: { limit: 10, remaining: 9, resetAt: T0 + 60_000 },
      })
      expect((await h.a.usage({ source: 's', now: T0 + 6, slackMs: SLACK })).requests).toBe(3)
    })

    it('admits exactly the limit when both users reserve at once', async () => {
      const limits = { requestsPerMinute: 20 }
      const all = await Promise.all(
        Array.from({ length: 50 }, (_, i) => reserve(i % 2 === 0 ? h.a : h.b, T0 + i, 1, limits)),
      )
      expect(all.filter((r) => r.ok)).toHaveLength(20)
    })
  })
}
