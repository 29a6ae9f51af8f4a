import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startLlmTestServer } from '@shiioo/testkit'
import type { LlmTestServer } from '@shiioo/testkit'
import { openAiProvider } from '../src/providers/openai.js'
import { failure, hello, providerContract } from './provider-contract.js'

providerContract({
  name: 'openai',
  make: (server, options = {}) =>
    openAiProvider({
      baseUrl: options.baseUrl ?? server.openAiBaseUrl,
      apiKey: options.apiKey ?? server.apiKey,
      ...(options.defaultTimeoutMs !== undefined && { defaultTimeoutMs: options.defaultTimeoutMs }),
    }),
})

describe('openai provider: the wire', () => {
  let server: LlmTestServer
  beforeAll(async () => {
    server = await startLlmTestServer({ apiKey: 'sk-openai-test' })
  })
  afterAll(async () => {
    await server.close()
  })
  beforeEach(() => server.reset())

  it('sends Chat Completions with a bearer key, organization, extra headers and tools', async () => {
    const provider = openAiProvider({
      baseUrl: `${server.openAiBaseUrl}/`,
      apiKey: 'sk-openai-test',
      organization: 'org-1',
      headers: { 'HTTP-Referer': 'https://shiioo.dev' },
    })
    await provider.chat({
      ...hello,
      temperature: 0.2,
      tools: [{ name: 'f', description: 'does f', inputSchema: { type: 'object' } }],
      messages: [
        ...hello.messages,
        { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', input: { a: 1 } }] },
        { role: 'tool', toolCallId: 'c1', name: 'f', content: 'done' },
      ],
    })
    const [req] = server.requests
    expect(req?.path).toBe('/v1/chat/completions')
    expect(req?.headers).toMatchObject({
      authorization: 'Bearer sk-openai-test',
      'openai-organization': 'org-1',
      'http-referer': 'https://shiioo.dev',
    })
    expect(req?.body).toEqual({
      model: 'test-model',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'What is the weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'done' },
      ],
      tools: [{ type: 'function', function: { name: 'f', description: 'does f', parameters: { type: 'object' } } }],
      max_tokens: 200,
      temperature: 0.2,
    })
  })

  it('asks for usage in streams and can name max_completion_tokens', async () => {
    const provider = openAiProvider({
      baseUrl: server.openAiBaseUrl,
      apiKey: 'sk-openai-test',
      maxTokensField: 'max_completion_tokens',
    })
    const res = await provider.chat({ ...hello, stream: true })
    expect(res.usage).toEqual({ inputTokens: 11, outputTokens: 9 })
    expect(server.requests[0]?.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 200,
    })
  })

  it('calls an Azure deployment with api-key and api-version', async () => {
    const provider = openAiProvider({
      baseUrl: server.azureBaseUrl('gpt-4o-prod'),
      apiKey: 'sk-openai-test',
      azureApiVersion: '2024-10-21',
    })
    const res = await provider.chat(hello)
    expect(res.model).toBe('test-model')
    const [req] = server.requests
    expect(req).toMatchObject({
      path: '/openai/deployments/gpt-4o-prod/chat/completions',
      query: { 'api-version': '2024-10-21' },
      deployment: 'gpt-4o-prod',
      outcome: 'ok',
    })
    expect(req?.headers['api-key']).toBe('sk-openai-test')
    expect(req?.headers.authorization).toBeUndefined()
  })

  it('sends no authorization to a local server without a key', async () => {
    const local = await startLlmTestServer()
    try {
      const err = await failure(openAiProvider({ baseUrl: local.openAiBaseUrl }).chat(hello))
      expect(err.code).toBe('UNAUTHENTICATED')
      expect(local.requests[0]?.headers.authorization).toBeUndefined()
    } finally {
      await local.close()
    }
  })
})

describe('openai provider: responses that are not the vendor format', () => {
  const respond =
    (status: number, body: string, headers: Record<string, string> = {}): typeof fetch =>
    async () =>
      new Response(body, { status, headers: { 'content-type': 'application/json', ...headers } })

  it('maps a body that is not JSON, or not a completion, to INTERNAL', async () => {
    for (const body of ['<html>oops</html>', '{"choices":[]}', '{"choices":[{"message":{"content":5}}]}']) {
      const err = await failure(openAiProvider({ apiKey: 'k', fetch: respond(200, body) }).chat(hello))
      expect(err.code).toBe('INTERNAL')
    }
  })

  it('keeps the key out of a vendor message that echoes it', async () => {
    const key = 'sk-live-abcdef123456'
    const body = JSON.stringify({ error: { message: `Incorrect API key provided: ${key}.` } })
    const err = await failure(openAiProvider({ apiKey: key, fetch: respond(401, body) }).chat(hello))
    expect(err.code).toBe('UNAUTHENTICATED')
    expect(err.message).toContain('[redacted]')
    expect(JSON.stringify(err.toJSON())).not.toContain(key)
  })

  it('reads Ollama-style errors and retry-after-ms', async () => {
    const err = await failure(
      openAiProvider({
        fetch: respond(429, JSON.stringify({ error: 'too many requests' }), { 'retry-after-ms': '1500.5' }),
      }).chat(hello),
    )
    expect(err).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterMs: 1501 } })
    expect(err.message).toMatch(/too many requests/)
  })

  it('keeps tool arguments that are not JSON as text for the tool to reject', async () => {
    const body = JSON.stringify({
      model: 'm',
      choices: [
        {
          message: { content: null, tool_calls: [{ id: 'a', function: { name: 'f', arguments: '{"x":' } }] },
          finish_reason: 'tool_calls',
        },
      ],
    })
    const res = await openAiProvider({ fetch: respond(200, body) }).chat(hello)
    expect(res.toolCalls).toEqual([{ id: 'a', name: 'f', input: '{"x":' }])
    expect(res.usage.inputTokens).toBe(11) // estimated: the server sent no usage
  })
})
