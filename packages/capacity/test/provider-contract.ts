import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { ShiiooError } from '@shiioo/core'
import { FakeClock, startLlmTestServer } from '@shiioo/testkit'
import type { LlmTestServer } from '@shiioo/testkit'
import type { ChatMessage, ChatRequest, Provider } from '../src/index.js'

/** What the contract suite needs to build a provider against the test server. */
export interface ProviderHarness {
  name: string
  make(server: LlmTestServer, options?: { apiKey?: string; baseUrl?: string; defaultTimeoutMs?: number }): Provider
}

export async function failure(p: Promise<unknown>): Promise<ShiiooError> {
  try {
    await p
  } catch (err) {
    if (err instanceof ShiiooError) return err
    throw new Error(`not a ShiiooError: ${String(err)}`, { cause: err })
  }
  throw new Error('the call succeeded')
}

const KEY = 'sk-test-0123456789abcdef'

export const hello: ChatRequest = {
  model: 'test-model',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What is the weather in Paris?' },
  ],
  maxTokens: 200,
}

const weatherTool = {
  name: 'get_weather',
  description: 'The weather in a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
}

/** The Provider contract, run against the LLM test server over real HTTP. */
export function providerContract(harness: ProviderHarness): void {
  describe(`${harness.name} provider: the Provider contract`, () => {
    const clock = new FakeClock()
    let server: LlmTestServer
    let provider: Provider

    beforeAll(async () => {
      server = await startLlmTestServer({ apiKey: KEY, clock })
    })
    afterAll(async () => {
      await server.close()
    })
    beforeEach(() => {
      server.reset()
      server.clearFaults()
      server.setLimits({})
      server.setReply(undefined)
      provider = harness.make(server)
    })

    it('returns the text, stop reason, usage and model', async () => {
      const res = await provider.chat(hello)
      expect(res).toEqual({
        text: 'Echo: What is the weather in Paris?',
        toolCalls: [],
        stopReason: 'end',
        // ceil((14 + 29) / 4) in, ceil(35 / 4) out
        usage: { inputTokens: 11, outputTokens: 9 },
        model: 'test-model',
      })
      expect(server.requests[0]?.outcome).toBe('ok')
    })

    it('runs a tool-call loop: the model asks, the caller answers, the model replies', async () => {
      server.setReply((req) =>
        req.toolResults.length > 0
          ? { text: `It is ${req.toolResults[0]?.content} in Paris.` }
          : { toolCalls: [{ name: 'get_weather', input: { city: 'Paris' } }] },
      )
      const first = await provider.chat({ ...hello, tools: [weatherTool] })
      expect(first.stopReason).toBe('tool_use')
      expect(first.toolCalls).toEqual([{ id: expect.any(String), name: 'get_weather', input: { city: 'Paris' } }])
      const call = first.toolCalls[0]!
      const messages: ChatMessage[] = [
        ...hello.messages,
        { role: 'assistant', content: first.text, toolCalls: first.toolCalls },
        { role: 'tool', toolCallId: call.id, name: call.name, content: 'sunny' },
      ]
      const second = await provider.chat({ ...hello, messages, tools: [weatherTool] })
      expect(second).toMatchObject({ text: 'It is sunny in Paris.', toolCalls: [], stopReason: 'end' })
      expect(server.stats()).toMatchObject({ ok: 2, invalid: 0 })
    })

    it('streams text to onText and assembles tool calls from deltas', async () => {
      server.enqueue({
        text: 'Checking the forecast now.',
        toolCalls: [{ name: 'get_weather', input: { city: 'Paris', days: 3 } }],
      })
      const deltas: string[] = []
      const res = await provider.chat({ ...hello, tools: [weatherTool], stream: true, onText: (d) => deltas.push(d) })
      expect(deltas.length).toBeGreaterThan(1)
      expect(deltas.join('')).toBe('Checking the forecast now.')
      expect(res.text).toBe('Checking the forecast now.')
      expect(res.toolCalls).toEqual([
        { id: expect.any(String), name: 'get_weather', input: { city: 'Paris', days: 3 } },
      ])
      expect(res.stopReason).toBe('tool_use')
      expect(res.usage.inputTokens).toBeGreaterThan(0)
      expect(res.usage.outputTokens).toBeGreaterThan(0)
      expect(server.requests[0]?.stream).toBe(true)
    })

    it('sends the Idempotency-Key', async () => {
      await provider.chat({ ...hello, idempotencyKey: 'run-1/step-2/attempt' })
      expect(server.requests[0]?.idempotencyKey).toBe('run-1/step-2/attempt')
    })

    it('surfaces a 429 as RATE_LIMITED with the Retry-After in ms', async () => {
      server.setLimits({ requestsPerMinute: 1 })
      await provider.chat(hello)
      clock.advance(15_000)
      const err = await failure(provider.chat(hello))
      expect(err.code).toBe('RATE_LIMITED')
      expect(err.retryable).toBe(true)
      expect(err.details).toMatchObject({ status: 429, retryAfterMs: 45_000 })
      expect(err.message).toMatch(/requests per min/)
    })

    it('surfaces 5xx as UNAVAILABLE kind server', async () => {
      server.failNext(1, 500)
      server.failNext(1, 503)
      for (const status of [500, 503]) {
        const err = await failure(provider.chat(hello))
        expect(err).toMatchObject({ code: 'UNAVAILABLE', retryable: true, details: { kind: 'server', status } })
      }
      await expect(provider.chat(hello)).resolves.toMatchObject({ stopReason: 'end' })
    })

    it('times out a slow server as UNAVAILABLE kind timeout', async () => {
      server.setFaults({ headerDelayMs: 60_000 })
      const err = await failure(provider.chat({ ...hello, timeoutMs: 100 }))
      expect(err).toMatchObject({ code: 'UNAVAILABLE', retryable: true, details: { kind: 'timeout', timeoutMs: 100 } })
      await vi.waitFor(() => expect(server.requests[0]?.outcome).toBe('client_aborted'))
    })

    it('times out a stream that stalls after the headers', async () => {
      server.setFaults({ chunkDelayMs: 60_000 })
      const err = await failure(provider.chat({ ...hello, stream: true, onText: () => {}, timeoutMs: 150 }))
      expect(err.details).toMatchObject({ kind: 'timeout' })
      expect(server.requests[0]?.status).toBe(200)
    })

    it('uses defaultTimeoutMs when the request sets none', async () => {
      provider = harness.make(server, { defaultTimeoutMs: 100 })
      server.setFaults({ headerDelayMs: 60_000 })
      expect((await failure(provider.chat(hello))).details).toMatchObject({ kind: 'timeout', timeoutMs: 100 })
    })

    it('reports a dropped connection as UNAVAILABLE kind connection', async () => {
      server.dropNext(1, 'before-headers')
      server.dropNext(1, 'mid-body')
      server.dropNext(1, 'mid-body')
      for (const stream of [false, false, true]) {
        const err = await failure(provider.chat({ ...hello, stream }))
        expect(err).toMatchObject({ code: 'UNAVAILABLE', details: { kind: 'connection' } })
      }
      expect(server.stats().dropped).toBe(3)
    })

    it('reports a refused connection as UNAVAILABLE kind connection', async () => {
      const closed = await startLlmTestServer()
      const baseUrl = closed.url
      await closed.close()
      const err = await failure(harness.make(server, { baseUrl }).chat(hello))
      expect(err).toMatchObject({ code: 'UNAVAILABLE', details: { kind: 'connection' } })
    })

    it('reports a wrong key as UNAUTHENTICATED without the key in the error', async () => {
      const err = await failure(harness.make(server, { apiKey: 'sk-wrong-key-42' }).chat(hello))
      expect(err.code).toBe('UNAUTHENTICATED')
      expect(err.retryable).toBe(false)
      expect(JSON.stringify({ ...err.toJSON(), stack: err.stack })).not.toMatch(/sk-wrong-key-42|sk-test/)
    })

    it('reports a request the vendor rejects as INVALID_INPUT with its message', async () => {
      const orphan: ChatMessage[] = [...hello.messages, { role: 'tool', toolCallId: 'nope', name: 'x', content: '1' }]
      const err = await failure(provider.chat({ ...hello, messages: orphan }))
      expect(err).toMatchObject({ code: 'INVALID_INPUT', retryable: false, details: { status: 400 } })
      expect(err.message).toMatch(/tool/)
    })

    it('ends an aborted call with the caller reason when it is a ShiiooError', async () => {
      server.setFaults({ headerDelayMs: 60_000 })
      const controller = new AbortController()
      const call = failure(provider.chat({ ...hello, signal: controller.signal }))
      await vi.waitFor(() => expect(server.requests).toHaveLength(1))
      const reason = new ShiiooError('CONFLICT', 'run cancelled')
      controller.abort(reason)
      expect(await call).toBe(reason)
      const plain = new AbortController()
      plain.abort()
      expect((await failure(provider.chat({ ...hello, signal: plain.signal }))).details).toMatchObject({
        kind: 'aborted',
      })
    })
  })
}
