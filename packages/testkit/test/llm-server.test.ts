import { afterEach, describe, expect, it, vi } from 'vitest'
import { FakeClock, startLlmTestServer } from '../src/index.js'
import type { LlmTestServer, LlmTestServerOptions } from '../src/index.js'

let server: LlmTestServer | undefined

afterEach(async () => {
  await server?.close()
  server = undefined
})

async function start(options: LlmTestServerOptions = {}): Promise<LlmTestServer> {
  server = await startLlmTestServer(options)
  return server
}

function openAi(s: LlmTestServer, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${s.openAiBaseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${s.apiKey}`, ...headers },
    body: JSON.stringify(body),
  })
}

function anthropic(s: LlmTestServer, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${s.anthropicBaseUrl}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': s.apiKey,
      'anthropic-version': '2023-06-01',
      ...headers,
    },
    body: JSON.stringify(body),
  })
}

const hello = { model: 'gpt-test', messages: [{ role: 'user', content: 'hello there' }] }
const helloAnthropic = { model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: 'hello there' }] }

interface ToolCallWire {
  id: string
  type: string
  function: { name: string; arguments: string }
}
interface CompletionWire {
  object: string
  model: string
  choices: { message: { role: string; content: string | null; tool_calls?: ToolCallWire[] }; finish_reason: string }[]
  usage: Record<string, number>
}
interface ErrorWire {
  error: { message: string; type: string; code: string | null }
}
interface MessageWire {
  content: { type: string; text?: string; id?: string }[]
  stop_reason: string
}
interface ChunkWire {
  choices: { delta?: { content?: string; tool_calls?: { index: number; id?: string }[] } }[]
  usage?: Record<string, number>
}
interface EventWire {
  type: string
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string }
}

async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T
}

/** The `data:` payloads of an SSE body. */
function dataLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6))
}

describe('the LLM test server, OpenAI format', () => {
  it('answers with a deterministic echo, usage, and rate-limit headers', async () => {
    const s = await start({ limits: { requestsPerMinute: 10, tokensPerMinute: 10_000 } })
    const res = await openAi(s, hello, { 'idempotency-key': 'k-1' })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('9')
    const body = await json<CompletionWire>(res)
    expect(body.object).toBe('chat.completion')
    expect(body.choices[0]!.message).toEqual({ role: 'assistant', content: 'Echo: hello there' })
    expect(body.choices[0]!.finish_reason).toBe('stop')
    // ceil(11 chars / 4) in, ceil(17 / 4) out
    expect(body.usage).toEqual({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 })
    expect(s.requests[0]).toMatchObject({ api: 'openai', idempotencyKey: 'k-1', outcome: 'ok', status: 200 })
  })

  it('answers with scripted tool calls and checks that tool results answer them', async () => {
    const s = await start()
    s.enqueue({ toolCalls: [{ name: 'lookup', input: { q: 'x' } }] })
    const first = await json<CompletionWire>(
      openAi(s, {
        ...hello,
        tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
      }),
    )
    const call = first.choices[0]!.message.tool_calls![0]!
    expect(call).toEqual({ id: 'call_1_0', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } })
    expect(first.choices[0]!.finish_reason).toBe('tool_calls')
    expect(first.choices[0]!.message.content).toBeNull()

    const messages = [
      ...hello.messages,
      first.choices[0]!.message,
      { role: 'tool', tool_call_id: call.id, content: '42' },
    ]
    const second = await json<CompletionWire>(openAi(s, { ...hello, messages }))
    expect(second.choices[0]!.message.content).toBe('Tool results: 42')

    const orphan = await openAi(s, {
      ...hello,
      messages: [...hello.messages, { role: 'tool', tool_call_id: 'nope', content: '1' }],
    })
    expect(orphan.status).toBe(400)
    expect((await json<ErrorWire>(orphan)).error.type).toBe('invalid_request_error')
  })

  it('streams chunks, tool-call deltas, a usage chunk and [DONE]', async () => {
    const s = await start({ streamChunkChars: 4 })
    s.enqueue({ text: 'abcdefgh', toolCalls: [{ name: 't', input: { a: 1 } }] })
    const res = await openAi(s, { ...hello, stream: true, stream_options: { include_usage: true } })
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const data = dataLines(await res.text())
    expect(data.at(-1)).toBe('[DONE]')
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as ChunkWire)
    expect(chunks.map((c) => c.choices[0]?.delta?.content).filter(Boolean)).toEqual(['abcd', 'efgh'])
    expect(chunks.find((c) => c.choices[0]?.delta?.tool_calls)?.choices[0]?.delta?.tool_calls?.[0]).toMatchObject({
      index: 0,
      id: 'call_1_0',
      function: { name: 't' },
    })
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3 } })
  })

  it('takes Azure deployment URLs with api-key and api-version', async () => {
    const s = await start()
    const url = `${s.azureBaseUrl('my-gpt')}/chat/completions`
    const ok = await fetch(`${url}?api-version=2024-10-21`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': s.apiKey },
      body: JSON.stringify({ messages: hello.messages }),
    })
    expect((await json<CompletionWire>(ok)).model).toBe('my-gpt')
    const noVersion = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': s.apiKey },
      body: JSON.stringify({ messages: hello.messages }),
    })
    expect(noVersion.status).toBe(400)
    expect(s.requests[0]).toMatchObject({ deployment: 'my-gpt', query: { 'api-version': '2024-10-21' } })
  })

  it('serves under a path prefix and rejects a wrong key with 401', async () => {
    const s = await start({ pathPrefix: '/proxy/' })
    expect(s.openAiBaseUrl).toMatch(/\/proxy\/v1$/)
    expect((await openAi(s, hello)).status).toBe(200)
    const res = await openAi(s, hello, { authorization: 'Bearer wrong' })
    expect(res.status).toBe(401)
    expect((await json<ErrorWire>(res)).error.code).toBe('invalid_api_key')
    expect(s.stats()).toMatchObject({ requests: 2, ok: 1, unauthorized: 1 })
  })
})

describe('the LLM test server, Anthropic format', () => {
  it('answers messages, requires anthropic-version and the x-api-key', async () => {
    const s = await start()
    const res = await anthropic(s, helloAnthropic)
    expect(res.headers.get('request-id')).toBe('req_1')
    expect(await res.json()).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'Echo: hello there' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 3, output_tokens: 5 },
    })
    const noVersion = await anthropic(s, helloAnthropic, { 'anthropic-version': '' })
    expect(noVersion.status).toBe(400)
    const wrongKey = await anthropic(s, helloAnthropic, { 'x-api-key': 'nope' })
    expect(wrongKey.status).toBe(401)
    expect(await wrongKey.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    const noMax = await anthropic(s, { ...helloAnthropic, max_tokens: undefined })
    expect((await json<ErrorWire>(noMax)).error.message).toMatch(/max_tokens/)
  })

  it('runs a tool loop with tool_use and tool_result blocks', async () => {
    const s = await start()
    s.setReply((req) =>
      req.toolResults.length > 0
        ? { text: `got ${req.toolResults[0]?.content}` }
        : { toolCalls: [{ name: 'f', input: {} }] },
    )
    const first = await json<MessageWire>(anthropic(s, helloAnthropic))
    expect(first.content).toEqual([{ type: 'tool_use', id: 'toolu_1_0', name: 'f', input: {} }])
    expect(first.stop_reason).toBe('tool_use')
    const messages = [
      ...helloAnthropic.messages,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1_0', content: 'sunny' }] },
    ]
    const second = await json<MessageWire>(anthropic(s, { ...helloAnthropic, messages }))
    expect(second.content[0]?.text).toBe('got sunny')
  })

  it('streams message_start ... message_stop with typed events', async () => {
    const s = await start({ streamChunkChars: 5 })
    s.enqueue({ text: 'hello world', toolCalls: [{ name: 'f', input: { x: 1 } }] })
    const text = await (await anthropic(s, { ...helloAnthropic, stream: true })).text()
    const events = text
      .split('\n')
      .filter((l) => l.startsWith('event: '))
      .map((l) => l.slice(7))
    expect(events[0]).toBe('message_start')
    expect(events.slice(-2)).toEqual(['message_delta', 'message_stop'])
    const data = dataLines(text).map((d) => JSON.parse(d) as EventWire)
    expect(data.filter((d) => d.delta?.type === 'text_delta').map((d) => d.delta?.text)).toEqual([
      'hello',
      ' worl',
      'd',
    ])
    expect(
      data
        .filter((d) => d.delta?.type === 'input_json_delta')
        .map((d) => d.delta?.partial_json)
        .join(''),
    ).toBe('{"x":1}')
    expect(data.find((d) => d.type === 'message_delta')).toMatchObject({ delta: { stop_reason: 'tool_use' } })
  })
})

describe('the LLM test server, limits', () => {
  it('answers over the request limit with 429 and Retry-After, and admits again when the window slides', async () => {
    const clock = new FakeClock()
    const s = await start({ clock, limits: { requestsPerMinute: 2 } })
    expect((await openAi(s, hello)).status).toBe(200)
    clock.advance(10_000)
    expect((await openAi(s, hello)).status).toBe(200)
    const limited = await openAi(s, hello)
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('50')
    expect(limited.headers.get('x-ratelimit-remaining-requests')).toBe('0')
    expect((await json<ErrorWire>(limited)).error.code).toBe('rate_limit_exceeded')
    const limitedA = await anthropic(s, helloAnthropic)
    expect(limitedA.status).toBe(429)
    expect(limitedA.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0')
    expect(await limitedA.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } })
    clock.advance(50_000)
    expect((await openAi(s, hello)).status).toBe(200)
    const stats = s.stats()
    expect(stats).toMatchObject({ requests: 5, ok: 3, rateLimited: 2, peakRequestsPerMinute: 2 })
    expect(stats.byMinute.reduce((n, m) => n + m.requests, 0)).toBe(5)
  })

  it('counts prompt + max_tokens against the token limit, or the actual output', async () => {
    const clock = new FakeClock()
    const s = await start({ clock, limits: { tokensPerMinute: 100 } })
    expect((await openAi(s, { ...hello, max_tokens: 60 })).status).toBe(200) // 3 + 60
    const over = await openAi(s, { ...hello, max_tokens: 60 })
    expect(over.status).toBe(429)
    expect((await json<ErrorWire>(over)).error.type).toBe('tokens')
    expect((await openAi(s, hello)).status).toBe(200) // 3 + 5 actual
    expect(s.requests.map((r) => r.tokens)).toEqual([63, 0, 8])
    s.setLimits({ tokensPerMinute: 10 })
    const tooLarge = await openAi(s, { ...hello, max_tokens: 60 })
    expect((await json<ErrorWire>(tooLarge)).error.message).toMatch(/too large/)
    expect(s.stats().peakTokensPerMinute).toBe(71)
  })

  it('limits concurrency; delays wait on the injected clock', async () => {
    const clock = new FakeClock()
    const s = await start({ clock, limits: { maxConcurrent: 1 }, faults: { headerDelayMs: 5_000 } })
    const slow = openAi(s, hello)
    await vi.waitFor(() => expect(s.requests).toHaveLength(1))
    const second = await openAi(s, hello)
    expect(second.status).toBe(429)
    expect(second.headers.get('retry-after')).toBe('1')
    clock.advance(5_000)
    expect((await slow).status).toBe(200)
    expect(s.stats().peakConcurrent).toBe(1)
  })
})

describe('the LLM test server, faults', () => {
  it('fails the next requests with 5xx in the vendor format', async () => {
    const s = await start()
    s.failNext(2, 503)
    const a = await openAi(s, hello)
    expect(a.status).toBe(503)
    expect((await json<ErrorWire>(a)).error.type).toBe('server_error')
    const b = await anthropic(s, helloAnthropic)
    expect(b.status).toBe(503)
    expect(await b.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } })
    expect((await openAi(s, hello)).status).toBe(200)
    expect(s.stats().serverErrors).toBe(2)
  })

  it('fails a seeded share of requests', async () => {
    const s = await start({ seed: 7, faults: { errorRate: 0.5 } })
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) statuses.push((await openAi(s, hello)).status)
    const failed = statuses.filter((x) => x === 500).length
    expect(failed).toBeGreaterThan(3)
    expect(failed).toBeLessThan(17)
    s.reset()
    const again: number[] = []
    for (let i = 0; i < 20; i++) again.push((await openAi(s, hello)).status)
    expect(again).toEqual(statuses)
  })

  it('drops connections before the headers or halfway through the body', async () => {
    const s = await start()
    s.dropNext(1, 'before-headers')
    await expect(openAi(s, hello)).rejects.toThrow(/fetch failed/)
    s.dropNext(1, 'mid-body')
    const res = await openAi(s, hello)
    expect(res.status).toBe(200)
    await expect(res.text()).rejects.toThrow()
    s.dropNext(1, 'mid-body')
    const stream = await openAi(s, { ...hello, stream: true })
    await expect(stream.text()).rejects.toThrow()
    expect(s.stats().dropped).toBe(3)
    expect((await openAi(s, hello)).status).toBe(200)
  })

  it('waits between stream chunks', async () => {
    const clock = new FakeClock()
    const s = await start({ clock, faults: { chunkDelayMs: 1_000 }, streamChunkChars: 100 })
    const res = await openAi(s, { ...hello, stream: true })
    let done = false
    const body = res.text().finally(() => (done = true))
    let waits = 0
    while (!done) {
      await new Promise((r) => setTimeout(r, 2))
      if (clock.pending > 0) waits++
      clock.advance(1_000)
    }
    // a role chunk, a content chunk, a finish chunk and [DONE]: three waits between four frames
    expect(waits).toBe(3)
    expect(dataLines(await body).at(-1)).toBe('[DONE]')
  })
})
