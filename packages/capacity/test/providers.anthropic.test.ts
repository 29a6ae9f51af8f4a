import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startLlmTestServer } from '@shiioo/testkit'
import type { LlmTestServer } from '@shiioo/testkit'
import { anthropicProvider } from '../src/providers/anthropic.js'
import { failure, hello, providerContract } from './provider-contract.js'

providerContract({
  name: 'anthropic',
  make: (server, options = {}) =>
    anthropicProvider({
      baseUrl: options.baseUrl ?? server.anthropicBaseUrl,
      apiKey: options.apiKey ?? server.apiKey,
      ...(options.defaultTimeoutMs !== undefined && { defaultTimeoutMs: options.defaultTimeoutMs }),
    }),
})

describe('anthropic provider: the wire', () => {
  let server: LlmTestServer
  beforeAll(async () => {
    server = await startLlmTestServer({ apiKey: 'sk-ant-test' })
  })
  afterAll(async () => {
    await server.close()
  })
  beforeEach(() => server.reset())

  it('sends Messages with x-api-key, anthropic-version, a top-level system and tool_result blocks', async () => {
    const provider = anthropicProvider({ baseUrl: server.anthropicBaseUrl, apiKey: 'sk-ant-test' })
    await provider.chat({
      ...hello,
      maxTokens: undefined,
      tools: [{ name: 'f', inputSchema: { type: 'object' } }],
      messages: [
        ...hello.messages,
        {
          role: 'assistant',
          content: 'Let me check.',
          toolCalls: [
            { id: 't1', name: 'f', input: { a: 1 } },
            { id: 't2', name: 'f', input: { a: 2 } },
          ],
        },
        { role: 'tool', toolCallId: 't1', name: 'f', content: 'one' },
        { role: 'tool', toolCallId: 't2', name: 'f', content: 'two' },
      ],
    })
    const [req] = server.requests
    expect(req?.outcome).toBe('ok')
    expect(req?.path).toBe('/v1/messages')
    expect(req?.headers).toMatchObject({ 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' })
    expect(req?.body).toEqual({
      model: 'test-model',
      max_tokens: 4096,
      system: 'You are terse.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'What is the weather in Paris?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } },
            { type: 'tool_use', id: 't2', name: 'f', input: { a: 2 } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: 'one' },
            { type: 'tool_result', tool_use_id: 't2', content: 'two' },
          ],
        },
      ],
      tools: [{ name: 'f', input_schema: { type: 'object' } }],
    })
  })

  it('accepts a base URL that already ends in /v1, and another version', async () => {
    const provider = anthropicProvider({
      baseUrl: `${server.anthropicBaseUrl}/v1`,
      apiKey: 'sk-ant-test',
      version: '2024-01-01',
      defaultMaxTokens: 512,
    })
    await provider.chat({ ...hello, maxTokens: undefined })
    expect(server.requests[0]?.headers['anthropic-version']).toBe('2024-01-01')
    expect(server.requests[0]?.body).toMatchObject({ max_tokens: 512 })
  })

  it('reports 529 overloaded as UNAVAILABLE kind server', async () => {
    server.failNext(1, 529)
    const err = await failure(
      anthropicProvider({ baseUrl: server.anthropicBaseUrl, apiKey: 'sk-ant-test' }).chat(hello),
    )
    expect(err).toMatchObject({ code: 'UNAVAILABLE', details: { kind: 'server', status: 529, requestId: 'req_1' } })
    expect(err.message).toMatch(/overloaded/)
  })
})

describe('anthropic provider: streams', () => {
  const stream =
    (events: string): typeof fetch =>
    async () =>
      new Response(events, { status: 200, headers: { 'content-type': 'text/event-stream' } })

  it('maps an error event mid-stream by its type', async () => {
    const events =
      'event: message_start\ndata: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":3}}}\n\n' +
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    const err = await failure(
      anthropicProvider({ apiKey: 'k', fetch: stream(events) }).chat({ ...hello, stream: true }),
    )
    expect(err).toMatchObject({ code: 'UNAVAILABLE', details: { kind: 'server', vendorType: 'overloaded_error' } })
  })

  it('reports a stream that ends before message_stop as a dropped connection', async () => {
    const events =
      'event: message_start\r\ndata: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":3}}}\r\n\r\n'
    const err = await failure(
      anthropicProvider({ apiKey: 'k', fetch: stream(events) }).chat({ ...hello, stream: true }),
    )
    expect(err.details).toMatchObject({ kind: 'connection' })
  })

  it('counts cached input tokens as input', async () => {
    const body = JSON.stringify({
      type: 'message',
      model: 'claude-x',
      content: [{ type: 'text', text: 'hi' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 2 },
    })
    const fetchFn: typeof fetch = async () => new Response(body, { headers: { 'content-type': 'application/json' } })
    const res = await anthropicProvider({ apiKey: 'k', fetch: fetchFn }).chat(hello)
    expect(res).toMatchObject({ text: 'hi', usage: { inputTokens: 100, outputTokens: 2 }, model: 'claude-x' })
  })
})
