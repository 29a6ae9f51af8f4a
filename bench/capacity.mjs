// The capacity pool: goodput against rate-limited sources, and the pool's own overhead per call.
//
// Goodput: three wire-format test servers (two OpenAI, one Anthropic) enforce requests/min and
// tokens/min as the vendors do (max_tokens held at arrival; OpenAI keeps it, Anthropic corrects it
// to the output) and send their rate-limit headers; two pools, as two processes on one data dir,
// share the sources' windows through a data-dir CapacityLedger each opens on the same directory,
// and are offered more calls than the sources allow for several minutes. Reported: the share of
// the summed limits used (of whichever limit binds) and the share of calls that met a 429. Time
// is a fake clock shared by the servers and the pools, moved only while no call is on the wire,
// so minutes of limits take seconds; the calls are real HTTP.
// Overhead: admission + routing + settlement per call, as pool.call() minus a direct call of the
// same in-process provider.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CapacityPool } from '../packages/capacity/dist/index.js'
import { FsCapacityLedger } from '../packages/core/dist/index.js'
import { anthropicProvider } from '../packages/capacity/dist/providers/anthropic.js'
import { openAiProvider } from '../packages/capacity/dist/providers/openai.js'
import { FakeClock, startLlmTestServer } from '../packages/testkit/dist/index.js'
import { percentile, progress } from './lib.mjs'

const pause = () => new Promise((r) => setImmediate(r))

async function goodput(minutes = 6) {
  const clock = new FakeClock()
  const limits = [
    { id: 'openai-a', api: 'openai', requestsPerMinute: 300, tokensPerMinute: 40_000 },
    { id: 'anthropic', api: 'anthropic', requestsPerMinute: 120, tokensPerMinute: 30_000 },
    { id: 'openai-b', api: 'openai', requestsPerMinute: 600, tokensPerMinute: 50_000 },
  ]
  const servers = []
  const sources = []
  for (const l of limits) {
    const server = await startLlmTestServer({
      clock,
      limits: { requestsPerMinute: l.requestsPerMinute, tokensPerMinute: l.tokensPerMinute },
    })
    servers.push(server)
    const provider =
      l.api === 'openai'
        ? openAiProvider({ baseUrl: server.openAiBaseUrl, apiKey: 'test-key' })
        : anthropicProvider({ baseUrl: server.anthropicBaseUrl, apiKey: 'test-key' })
    sources.push({
      id: l.id,
      provider,
      models: ['m'],
      limits: { requestsPerMinute: l.requestsPerMinute, tokensPerMinute: l.tokensPerMinute },
    })
  }
  const dir = mkdtempSync(join(tmpdir(), 'shiioo-bench-capacity-'))
  const pools = [0, 1].map(
    () => new CapacityPool({ clock, sources, ledger: new FsCapacityLedger(join(dir, 'capacity')), ledgerPollMs: 1000 }),
  )
  const start = clock.now()
  const end = start + minutes * 60_000
  let issued = 0
  let done = 0
  const offer = () => {
    // keep a backlog: the pool always has more calls than the sources allow
    while (issued - done < 400) {
      const i = issued++
      pools[i % 2]
        .call({
          tenant: `t${i % 5}`,
          model: 'm',
          chat: { messages: [{ role: 'user', content: `call ${i}: ${'word '.repeat(20 + (i % 40))}` }], maxTokens: 60 },
        })
        .then(
          () => done++,
          () => done++,
        )
    }
  }
  while (clock.now() < end) {
    offer()
    do await pause()
    while (pools.some((p) => p.inFlight > 0))
    clock.advance(100)
  }
  for (const p of pools) p.close()
  rmSync(dir, { recursive: true, force: true })
  let requests = 0
  let rateLimited = 0
  let usedShare = 0
  for (const [i, server] of servers.entries()) {
    const s = server.stats()
    requests += s.requests
    rateLimited += s.rateLimited
    // whole minutes of steady state, the first one aside (it starts from an empty window)
    const minutesSeen = s.byMinute.filter((m) => m.minute >= start + 60_000 && m.minute < end)
    const reqShare = minutesSeen.reduce((n, m) => n + m.ok, 0) / (limits[i].requestsPerMinute * minutesSeen.length)
    const tokShare = minutesSeen.reduce((n, m) => n + m.tokens, 0) / (limits[i].tokensPerMinute * minutesSeen.length)
    usedShare += Math.max(reqShare, tokShare) / servers.length
    await server.close()
  }
  return { requests, rateLimitedShare: rateLimited / requests, limitsUsedShare: usedShare }
}

async function overhead(n = 20_000) {
  const reply = {
    text: 'ok',
    toolCalls: [],
    stopReason: 'end',
    usage: { inputTokens: 10, outputTokens: 5 },
    model: 'm',
  }
  const provider = { kind: 'instant', chat: () => Promise.resolve(reply) }
  const pool = new CapacityPool({
    sources: [
      {
        id: 'a',
        provider,
        models: ['m'],
        limits: { requestsPerMinute: 1e9, tokensPerMinute: 1e12, maxConcurrent: 1000 },
        prices: { inputPer1M: 1, outputPer1M: 2 },
      },
      { id: 'b', provider, models: ['m'], limits: { requestsPerMinute: 1e9, tokensPerMinute: 1e12 } },
    ],
  })
  const call = {
    tenant: 'acme',
    model: 'm',
    chat: { messages: [{ role: 'user', content: 'hello there' }], maxTokens: 50 },
  }
  const direct = []
  const pooled = []
  for (let round = 0; round < 2; round++) {
    direct.length = 0
    pooled.length = 0
    for (let i = 0; i < n; i++) {
      let t = performance.now()
      await provider.chat({ ...call.chat, model: 'm' })
      direct.push(performance.now() - t)
      t = performance.now()
      await pool.call(call)
      pooled.push(performance.now() - t)
    }
  }
  pool.close()
  direct.sort((a, b) => a - b)
  pooled.sort((a, b) => a - b)
  return {
    p50Ms: percentile(pooled, 50) - percentile(direct, 50),
    p99Ms: percentile(pooled, 99) - percentile(direct, 99),
    pooledP50Ms: percentile(pooled, 50),
    directP50Ms: percentile(direct, 50),
  }
}

export async function run() {
  progress(
    'goodput: three strict rate-limited test servers, two pools sharing a data-dir ledger, 6 simulated minutes of overload',
  )
  const g = await goodput()
  progress('pool overhead per call (admission + routing + settlement)')
  const o = await overhead()
  return {
    goodputRequests: g.requests,
    goodputLimitsUsedPct: Math.round(g.limitsUsedShare * 1000) / 10,
    goodput429Pct: Math.round(g.rateLimitedShare * 10000) / 100,
    poolOverheadP50Ms: o.p50Ms,
    poolOverheadP99Ms: o.p99Ms,
    poolCallP50Ms: o.pooledP50Ms,
    directCallP50Ms: o.directP50Ms,
  }
}
