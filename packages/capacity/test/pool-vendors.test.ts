import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LogContext, Logger } from '@shiioo/core'
import { FsCapacityLedger, isShiiooError } from '@shiioo/core'
import type { LlmTestServer } from '@shiioo/testkit'
import { FakeClock, startLlmTestServer } from '@shiioo/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import type { PoolResult, Provider } from '../src/index.js'
import { CapacityPool } from '../src/index.js'
import { anthropicProvider } from '../src/providers/anthropic.js'
import { openAiProvider } from '../src/providers/openai.js'

// The pool against the strict stand-in for the vendors: real HTTP, real 429s, max_tokens counted
// as the vendors count it, rate-limit headers. Time is a fake clock shared by server and pool,
// moved only while no call is on the wire.

const servers: LlmTestServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

async function server(options: Parameters<typeof startLlmTestServer>[0]): Promise<LlmTestServer> {
  const s = await startLlmTestServer(options)
  servers.push(s)
  return s
}

const pause = () => new Promise((r) => setImmediate(r))

/** Runs the fake clock forward in steps until every call settled (or the time is up). */
async function drive(clock: FakeClock, pools: CapacityPool[], calls: Promise<unknown>[], maxMs: number) {
  let settled = 0
  for (const c of calls)
    void c.then(
      () => settled++,
      () => settled++,
    )
  const end = clock.now() + maxMs
  while (settled < calls.length && clock.now() < end) {
    do await pause()
    while (pools.some((p) => p.inFlight > 0))
    await pause()
    clock.advance(250)
  }
}

function recordingLogger(lines: { level: string; message: string; context: LogContext }[]): Logger {
  const at =
    (level: string) =>
    (message: string, context: LogContext = {}) =>
      void lines.push({ level, message, context })
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  }
  return logger
}

const ask = (i: number, maxTokens = 200) => ({
  tenant: 'default',
  model: 'm',
  chat: { messages: [{ role: 'user' as const, content: `question ${i}` }], maxTokens },
})

describe('tokens per minute, counted as the vendor counts them', () => {
  it.each(['openai', 'anthropic'] as const)(
    '%s: 20 calls with max_tokens 200 against 2,500 tokens/min meet no 429 and all complete',
    async (api) => {
      const clock = new FakeClock()
      const s = await server({ clock, limits: { tokensPerMinute: 2500 } })
      const provider: Provider =
        api === 'openai'
          ? openAiProvider({ baseUrl: s.openAiBaseUrl, apiKey: s.apiKey })
          : anthropicProvider({ baseUrl: s.anthropicBaseUrl, apiKey: s.apiKey })
      const pool = new CapacityPool({
        clock,
        sources: [{ id: api, provider, models: ['m'], limits: { tokensPerMinute: 2500 } }],
      })
      const calls = Array.from({ length: 20 }, (_, i) => pool.call(ask(i)))
      await pause()
      await drive(clock, [pool], calls, 0)
      // at most 2,500 tokens of output budget and prompt at once: 10 calls of ~205, not 19
      expect(s.requests.length).toBeLessThanOrEqual(12)
      await drive(clock, [pool], calls, 10 * 60_000)
      pool.close()
      const results = await Promise.allSettled(calls)
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20)
      expect(s.stats().rateLimited).toBe(0)
      expect(s.stats().peakTokensPerMinute).toBeLessThanOrEqual(2500)
    },
  )
})

describe('a key the vendor refuses', () => {
  it('takes the source out of service and fails over at once, naming it in the state and the log', async () => {
    const clock = new FakeClock()
    const s = await server({ clock, apiKey: 'right-key' })
    const lines: { level: string; message: string; context: LogContext }[] = []
    const pool = new CapacityPool({
      clock,
      logger: recordingLogger(lines),
      sources: [
        {
          id: 'revoked',
          provider: openAiProvider({ baseUrl: s.openAiBaseUrl, apiKey: 'old-key' }),
          models: ['m'],
          priority: 1,
        },
        {
          id: 'good',
          provider: anthropicProvider({ baseUrl: s.anthropicBaseUrl, apiKey: 'right-key' }),
          models: ['m'],
        },
      ],
    })
    const r: PoolResult = await pool.call(ask(1))
    expect(r.sourceId).toBe('good')
    expect(r.attempts).toBe(2)
    await pool.call(ask(2))
    expect(s.requests.map((x) => x.status)).toEqual([401, 200, 200])
    expect(pool.status().find((x) => x.id === 'revoked')).toMatchObject({ state: 'out_of_service' })
    expect(pool.status().find((x) => x.id === 'revoked')?.reason).toContain('openai answered 401')
    const logged = lines.find((l) => l.message.includes('out of service'))
    expect(logged).toMatchObject({ level: 'error', context: { source: 'revoked', status: 401 } })
    expect(JSON.stringify(lines)).not.toContain('old-key')
    pool.close()
  })

  it('fails at once with UNAUTHENTICATED naming the source when no other can serve the call', async () => {
    const clock = new FakeClock()
    const s = await server({ clock, apiKey: 'right-key' })
    const pool = new CapacityPool({
      clock,
      sources: [{ id: 'only', provider: openAiProvider({ baseUrl: s.openAiBaseUrl, apiKey: 'wrong' }), models: ['m'] }],
    })
    const both = [pool.call(ask(1)), pool.call(ask(2))]
    const errors = await Promise.all(
      both.map((p) =>
        p.then(
          () => null,
          (e: unknown) => e,
        ),
      ),
    )
    for (const e of errors) {
      expect(isShiiooError(e) && e.code).toBe('UNAUTHENTICATED')
      expect((e as Error).message).toContain('only')
      expect((e as Error).message).toContain('401')
    }
    // no retries: one request each at most, no time waited
    expect(s.requests.length).toBeLessThanOrEqual(2)
    await expect(pool.call(ask(3))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    expect(s.requests.length).toBeLessThanOrEqual(2)
    pool.close()
  })
})

describe('limits set above the vendor', () => {
  it.each(['openai', 'anthropic'] as const)(
    '%s: the pool adopts the limits the headers announce and does not herd after Retry-After',
    async (api) => {
      const clock = new FakeClock()
      const s = await server({ clock, limits: { requestsPerMinute: 10, tokensPerMinute: 100_000 } })
      const provider: Provider =
        api === 'openai'
          ? openAiProvider({ baseUrl: s.openAiBaseUrl, apiKey: s.apiKey })
          : anthropicProvider({ baseUrl: s.anthropicBaseUrl, apiKey: s.apiKey })
      // configured at 60 a minute: six times what the vendor allows
      const pool = new CapacityPool({
        clock,
        sources: [{ id: api, provider, models: ['m'], limits: { requestsPerMinute: 60, maxConcurrent: 2 } }],
      })
      const calls = Array.from({ length: 40 }, (_, i) => pool.call(ask(i, 50)))
      await drive(clock, [pool], calls, 8 * 60_000)
      pool.close()
      const results = await Promise.allSettled(calls)
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(40)
      // the first answers teach the limit: no 429 at all, and never more than the vendor's 10 a minute
      expect(s.stats().rateLimited).toBe(0)
      expect(s.stats().peakRequestsPerMinute).toBeLessThanOrEqual(10)
    },
  )

  it('after a burst of 429s, the calls come back at the vendor pace, not all at once', async () => {
    const clock = new FakeClock()
    const s = await server({ clock, limits: { requestsPerMinute: 10 } })
    const pool = new CapacityPool({
      clock,
      sources: [
        {
          id: 'o',
          provider: openAiProvider({ baseUrl: s.openAiBaseUrl, apiKey: s.apiKey }),
          models: ['m'],
          limits: { requestsPerMinute: 1000 },
        },
      ],
    })
    // all 30 leave before any answer could teach the pool anything
    const calls = Array.from({ length: 30 }, (_, i) => pool.call(ask(i, 50)))
    await drive(clock, [pool], calls, 5 * 60_000)
    pool.close()
    expect((await Promise.allSettled(calls)).filter((r) => r.status === 'fulfilled')).toHaveLength(30)
    const first = s.stats().rateLimited
    expect(first).toBe(20)
    // every 429 came in the first burst: none after the pool heard the limit
    const late = s.requests.filter((r) => r.outcome === 'rate_limited' && r.at > s.requests[0]!.at)
    expect(late).toHaveLength(0)
  })
})

describe('limits shared by processes on one data dir', () => {
  it('two pools on one FsCapacityLedger stay within the source limit together: no 429, all served', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shiioo-pool-shared-'))
    try {
      const clock = new FakeClock()
      const s = await server({ clock, limits: { requestsPerMinute: 10, tokensPerMinute: 5000 } })
      const pools = [0, 1].map(
        () =>
          new CapacityPool({
            clock,
            ledger: new FsCapacityLedger(join(dir, 'capacity')),
            ledgerPollMs: 1000,
            sources: [
              {
                id: 'shared',
                provider: openAiProvider({ baseUrl: s.openAiBaseUrl, apiKey: s.apiKey }),
                models: ['m'],
                limits: { requestsPerMinute: 10, tokensPerMinute: 5000 },
              },
            ],
          }),
      )
      const calls = Array.from({ length: 30 }, (_, i) => pools[i % 2]!.call(ask(i, 100)))
      await drive(clock, pools, calls, 6 * 60_000)
      for (const p of pools) p.close()
      expect((await Promise.allSettled(calls)).filter((r) => r.status === 'fulfilled')).toHaveLength(30)
      expect(s.stats().rateLimited).toBe(0)
      expect(s.stats().peakRequestsPerMinute).toBeLessThanOrEqual(10)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
