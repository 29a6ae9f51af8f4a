import type { LlmTestServer } from '@shiioo/testkit'
import { startLlmTestServer } from '@shiioo/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { CapacityPool } from '../src/index.js'
import { anthropicProvider } from '../src/providers/anthropic.js'
import { openAiProvider } from '../src/providers/openai.js'

// An agent's text as the vendor streams it, through the pool: the strict vendor stand-in sends the
// reply in chunks of 5 characters, and the caller sees each one, from the source answering.

const servers: LlmTestServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

const REPLY = 'Durable agents keep every step as an event — ünïcödé included.'

describe('the pool streams a reply when asked to', () => {
  for (const api of ['openai', 'anthropic'] as const) {
    it(`hands on ${api}'s text delta by delta, and the response is the whole reply`, async () => {
      const s = await startLlmTestServer({ apiKey: 'k', streamChunkChars: 5, reply: () => ({ text: REPLY }) })
      servers.push(s)
      const provider =
        api === 'openai'
          ? openAiProvider({ baseUrl: s.openAiBaseUrl, apiKey: 'k' })
          : anthropicProvider({ baseUrl: s.anthropicBaseUrl, apiKey: 'k' })
      const pool = new CapacityPool({ sources: [{ id: `src-${api}`, provider, models: ['m'] }] })
      const deltas: { delta: string; source: string; attempt: number }[] = []
      const r = await pool.call({
        tenant: 'default',
        model: 'm',
        chat: { messages: [{ role: 'user', content: 'hi' }] },
        onText: (delta, from) => deltas.push({ delta, ...from }),
      })
      pool.close()
      expect(s.requests.at(-1)?.stream).toBe(true)
      expect(r.response.text).toBe(REPLY)
      expect(deltas.length).toBeGreaterThan(5)
      expect(deltas.map((d) => d.delta).join('')).toBe(REPLY)
      expect(new Set(deltas.map((d) => `${d.source}#${d.attempt}`))).toEqual(new Set([`src-${api}#1`]))
    })
  }

  it('does not ask for a stream when nobody listens', async () => {
    const s = await startLlmTestServer({ apiKey: 'k', reply: () => ({ text: REPLY }) })
    servers.push(s)
    const pool = new CapacityPool({
      sources: [{ id: 'a', provider: openAiProvider({ baseUrl: s.openAiBaseUrl, apiKey: 'k' }), models: ['m'] }],
    })
    const r = await pool.call({ tenant: 'default', model: 'm', chat: { messages: [{ role: 'user', content: 'hi' }] } })
    pool.close()
    expect(r.response.text).toBe(REPLY)
    expect(s.requests.at(-1)?.stream).toBe(false)
  })

  it('after a failover the text starts again as the next attempt, from the other source', async () => {
    const broken = await startLlmTestServer({
      apiKey: 'k',
      faults: { errorRate: 1, errorStatus: 503 },
      reply: () => ({ text: REPLY }),
    })
    const good = await startLlmTestServer({ apiKey: 'k', streamChunkChars: 7, reply: () => ({ text: REPLY }) })
    servers.push(broken, good)
    const pool = new CapacityPool({
      sources: [
        {
          id: 'broken',
          provider: openAiProvider({ baseUrl: broken.openAiBaseUrl, apiKey: 'k' }),
          models: ['m'],
          priority: 1,
        },
        { id: 'good', provider: anthropicProvider({ baseUrl: good.anthropicBaseUrl, apiKey: 'k' }), models: ['m'] },
      ],
    })
    const deltas: { delta: string; source: string; attempt: number }[] = []
    const r = await pool.call({
      tenant: 'default',
      model: 'm',
      chat: { messages: [{ role: 'user', content: 'hi' }] },
      onText: (delta, from) => deltas.push({ delta, ...from }),
    })
    pool.close()
    expect(r.sourceId).toBe('good')
    expect(r.attempts).toBe(2)
    expect(deltas.every((d) => d.source === 'good' && d.attempt === 2)).toBe(true)
    expect(deltas.map((d) => d.delta).join('')).toBe(REPLY)
  })
})
