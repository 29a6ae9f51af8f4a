import type { LlmTestServer } from '@shiioo/testkit'
import { FakeClock, startLlmTestServer } from '@shiioo/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import type { CapacitySource, PoolResult } from '../src/index.js'
import { CapacityPool } from '../src/index.js'
import { anthropicProvider } from '../src/providers/anthropic.js'
import { openAiProvider } from '../src/providers/openai.js'

const servers: LlmTestServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

const realPause = () => new Promise((r) => setTimeout(r, 2))

describe('capacity pool under a burst, over real HTTP', () => {
  it('serves 500 requests on three sources without loss or a call beyond any limit, failing over when one breaks', async () => {
    const clock = new FakeClock()
    const limits = {
      a: { requestsPerMinute: 60, tokensPerMinute: 12_000 },
      b: { requestsPerMinute: 40, tokensPerMinute: 8_000 },
      c: { requestsPerMinute: 100, tokensPerMinute: 30_000, maxConcurrent: 4 },
    }
    const a = await startLlmTestServer({ clock, limits: limits.a })
    const b = await startLlmTestServer({ clock, limits: { ...limits.b, countOutput: 'actual' } })
    const c = await startLlmTestServer({ clock, limits: limits.c })
    servers.push(a, b, c)
    const sources: CapacitySource[] = [
      {
        id: 'a',
        provider: openAiProvider({ baseUrl: a.openAiBaseUrl, apiKey: 'test-key' }),
        models: ['m'],
        limits: limits.a,
        tokenAccounting: 'max_tokens',
      },
      {
        id: 'b',
        provider: anthropicProvider({ baseUrl: b.anthropicBaseUrl, apiKey: 'test-key' }),
        models: ['m'],
        limits: limits.b,
      },
      {
        id: 'c',
        provider: openAiProvider({ baseUrl: c.openAiBaseUrl, apiKey: 'test-key' }),
        models: ['m'],
        limits: limits.c,
        tokenAccounting: 'max_tokens',
      },
    ]
    const pool = new CapacityPool({ clock, sources, breakerThreshold: 3, breakerOpenMs: 30_000 })
    const results: Array<PoolResult | Error> = []
    const calls = Array.from({ length: 500 }, (_, i) =>
      pool
        .call({
          tenant: i % 3 === 0 ? 'acme' : 'globex',
          model: 'm',
          chat: { messages: [{ role: 'user', content: `request ${i}: say hello` }], maxTokens: 100 },
        })
        .then(
          (r) => void (results[i] = r),
          (e: Error) => void (results[i] = e),
        ),
    )
    let brokeAt = -1
    let cBefore = 0
    for (let t = 0; results.filter(Boolean).length < 500 && t < 4000; t++) {
      // simulated time moves only while no call is on the wire: a call takes no simulated time
      do await realPause()
      while (pool.inFlight > 0)
      const done = results.filter(Boolean).length
      if (brokeAt < 0 && done >= 150) {
        brokeAt = clock.now()
        cBefore = c.stats().requests
        c.setFaults({ errorRate: 1, errorStatus: 503 })
      }
      if (brokeAt >= 0 && clock.now() - brokeAt === 90_000) c.clearFaults()
      clock.advance(500)
    }
    await Promise.all(calls)
    const failed = results.filter((r) => r instanceof Error)
    expect(failed).toEqual([])
    expect(results.filter(Boolean)).toHaveLength(500)
    for (const [name, server, limit] of [
      ['a', a, limits.a],
      ['b', b, limits.b],
      ['c', c, limits.c],
    ] as const) {
      const stats = server.stats()
      expect({ name, rateLimited: stats.rateLimited }).toEqual({ name, rateLimited: 0 })
      expect(stats.peakRequestsPerMinute).toBeLessThanOrEqual(limit.requestsPerMinute)
      expect(stats.peakTokensPerMinute).toBeLessThanOrEqual(limit.tokensPerMinute)
    }
    expect(c.stats().peakConcurrent).toBeLessThanOrEqual(4)
    // while c failed, its breaker opened after 3 failures: it was not hammered; a/b took the calls
    const served = (id: string) => results.filter((r) => !(r instanceof Error) && r.sourceId === id).length
    expect(c.stats().serverErrors).toBeGreaterThanOrEqual(3)
    expect(c.stats().serverErrors).toBeLessThanOrEqual(6)
    expect(c.stats().requests - cBefore).toBeGreaterThan(c.stats().serverErrors) // it came back after the faults cleared
    expect(served('a') + served('b') + served('c')).toBe(500)
    expect(served('a')).toBeGreaterThan(0)
    expect(served('b')).toBeGreaterThan(0)
    pool.close()
  }, 120_000)
})
