import { afterEach, describe, expect, it } from 'vitest'
import { FakeClock, startLlmTestServer } from '../src/index.js'
import type { LlmTestServer, LlmTestServerOptions } from '../src/index.js'

// The test server is as strict as the vendors on what they refuse at once in production: tool
// names, tokens per minute with max_tokens held, and the rate-limit headers clients adapt to.

let server: LlmTestServer | undefined

afterEach(async () => {
  await server?.close()
  server = undefined
})

async function start(options: LlmTestServerOptions = {}): Promise<LlmTestServer> {
  server = await startLlmTestServer(options)
  return server
}

function openAi(s: LlmTestServer, body: unknown): Promise<Response> {
  return fetch(`${s.openAiBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.apiKey}` },
    body: JSON.stringify(body),
  })
}

function anthropic(s: LlmTestServer, body: unknown): Promise<Response> {
  return fetch(`${s.anthropicBaseUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': s.apiKey, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  })
}

const openAiTool = (name: string) => ({ type: 'function', function: { name, parameters: { type: 'object' } } })
const anthropicTool = (name: string) => ({ name, input_schema: { type: 'object' } })
const user = [{ role: 'user', content: 'hi' }]

describe('the LLM test server refuses tool names the vendors refuse', () => {
  it('OpenAI: a dotted name and a name over 64 characters, with the vendor error shape', async () => {
    const s = await start()
    const dotted = await openAi(s, { model: 'm', messages: user, tools: [openAiTool('core.echo')] })
    expect(dotted.status).toBe(400)
    expect(await dotted.json()).toEqual({
      error: {
        message:
          "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
        type: 'invalid_request_error',
        param: 'tools[0].function.name',
        code: 'invalid_value',
      },
    })
    const long = await openAi(s, { model: 'm', messages: user, tools: [openAiTool('a'.repeat(65))] })
    expect(long.status).toBe(400)
    expect(((await long.json()) as { error: { code: string } }).error.code).toBe('string_above_max_length')
    const ok = await openAi(s, {
      model: 'm',
      messages: user,
      tools: [openAiTool('a'.repeat(64)), openAiTool('x_y-Z9')],
    })
    expect(ok.status).toBe(200)
  })

  it('OpenAI: a tool call in the history with a dotted name', async () => {
    const s = await start()
    const res = await openAi(s, {
      model: 'm',
      messages: [
        ...user,
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'core.echo', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: '{}' },
      ],
    })
    expect(res.status).toBe(400)
  })

  it('Anthropic: the pattern error of its API', async () => {
    const s = await start()
    const res = await anthropic(s, { model: 'c', max_tokens: 10, messages: user, tools: [anthropicTool('core.echo')] })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'",
      },
    })
    const long = await anthropic(s, {
      model: 'c',
      max_tokens: 10,
      messages: user,
      tools: [anthropicTool('b'.repeat(65))],
    })
    expect(long.status).toBe(400)
    const ok = await anthropic(s, { model: 'c', max_tokens: 10, messages: user, tools: [anthropicTool('core_echo')] })
    expect(ok.status).toBe(200)
  })
})

describe('the LLM test server counts tokens per minute as the vendors do', () => {
  it('OpenAI holds max_tokens for the minute, however short the answer', async () => {
    const clock = new FakeClock()
    const s = await start({ clock, limits: { tokensPerMinute: 500 } })
    const body = { model: 'm', messages: user, max_tokens: 200 }
    expect((await openAi(s, body)).status).toBe(200)
    expect((await openAi(s, body)).status).toBe(200)
    const third = await openAi(s, body)
    expect(third.status).toBe(429)
    expect(third.headers.get('retry-after')).toBe('60')
    expect(s.requests.map((r) => r.tokens)).toEqual([201, 201, 0])
  })

  it('Anthropic holds max_tokens while it answers, then counts the output produced', async () => {
    const clock = new FakeClock()
    const s = await start({ clock, limits: { tokensPerMinute: 500 } })
    // 600 tokens of budget do not fit a 500 limit, even for a short answer
    expect((await anthropic(s, { model: 'c', max_tokens: 600, messages: user })).status).toBe(429)
    const ok = await anthropic(s, { model: 'c', max_tokens: 200, messages: user })
    expect(ok.status).toBe(200)
    // settled to prompt + the reply actually written ("Echo: hi": 2 tokens)
    expect(s.requests.at(-1)!.tokens).toBe(3)
  })
})

describe('the LLM test server sends the vendors rate-limit headers', () => {
  it('OpenAI: limit, remaining and a Go-style reset duration; 429 with Retry-After', async () => {
    const clock = new FakeClock()
    const s = await start({ clock, limits: { requestsPerMinute: 2, tokensPerMinute: 10_000 } })
    const first = await openAi(s, { model: 'm', messages: user, max_tokens: 100 })
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('2')
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1')
    expect(first.headers.get('x-ratelimit-reset-requests')).toBe('1m0s')
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('10000')
    expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe('9899')
    clock.advance(54_000)
    await openAi(s, { model: 'm', messages: user, max_tokens: 100 })
    const limited = await openAi(s, { model: 'm', messages: user, max_tokens: 100 })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('6')
    expect(limited.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    expect(limited.headers.get('x-ratelimit-reset-requests')).toBe('6s')
  })

  it('Anthropic: limit, remaining and an RFC 3339 reset time', async () => {
    const clock = new FakeClock(Date.parse('2027-01-05T10:00:00.000Z'))
    const s = await start({ clock, limits: { requestsPerMinute: 5, tokensPerMinute: 10_000 } })
    const res = await anthropic(s, { model: 'c', max_tokens: 10, messages: user })
    expect(res.headers.get('anthropic-ratelimit-requests-limit')).toBe('5')
    expect(res.headers.get('anthropic-ratelimit-requests-remaining')).toBe('4')
    expect(res.headers.get('anthropic-ratelimit-requests-reset')).toBe('2027-01-05T10:01:00.000Z')
    expect(res.headers.get('anthropic-ratelimit-tokens-limit')).toBe('10000')
  })

  it('401 with the vendor shape for a bad key', async () => {
    const s = await start({ apiKey: 'right' })
    const res = await fetch(`${s.openAiBaseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' },
      body: JSON.stringify({ model: 'm', messages: user }),
    })
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key')
  })
})
