import { describe, expect, it } from 'vitest'
import { redact, retryAfterMs, statusError } from '../src/providers/http.js'
import { readSse } from '../src/providers/sse.js'

function body(...parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(encoder.encode(p))
      controller.close()
    },
  })
}

async function events(stream: ReadableStream<Uint8Array>): Promise<{ event: string; data: string }[]> {
  const out = []
  for await (const e of readSse(stream)) out.push(e)
  return out
}

describe('readSse', () => {
  it('handles LF, CRLF and CR, split anywhere, comments and multi-line data', async () => {
    const text = ': comment\nevent: a\ndata: 1\ndata:2\n\r\ndata: x\r\r\nevent: b\rdata: {"y":1}\r\n\r\ndata: dropped'
    const expected = [
      { event: 'a', data: '1\n2' },
      { event: 'message', data: 'x' },
      { event: 'b', data: '{"y":1}' },
    ]
    expect(await events(body(text))).toEqual(expected)
    // one character at a time, so every CR may be the first half of a CRLF
    expect(await events(body(...text.split('')))).toEqual(expected)
  })

  it('decodes multi-byte characters split across chunks', async () => {
    const bytes = new TextEncoder().encode('data: héllo 🌍\n\n')
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const b of bytes) c.enqueue(new Uint8Array([b]))
        c.close()
      },
    })
    expect(await events(stream)).toEqual([{ event: 'message', data: 'héllo 🌍' }])
  })
})

describe('retryAfterMs', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0)
  const h = (init: Record<string, string>): Headers => new Headers(init)

  it('reads retry-after-ms, Retry-After seconds and HTTP dates', () => {
    expect(retryAfterMs(h({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250)
    expect(retryAfterMs(h({ 'retry-after': '2' }), now)).toBe(2000)
    expect(retryAfterMs(h({ 'retry-after': '0.5' }), now)).toBe(500)
    expect(retryAfterMs(h({ 'retry-after': new Date(now + 30_000).toUTCString() }), now)).toBe(30_000)
    expect(retryAfterMs(h({ 'retry-after': new Date(now - 30_000).toUTCString() }), now)).toBe(0)
    expect(retryAfterMs(h({ 'retry-after': 'soon' }), now)).toBeUndefined()
    expect(retryAfterMs(h({}), now)).toBeUndefined()
  })

  it('falls back to the reset of an exhausted rate limit', () => {
    expect(
      retryAfterMs(
        h({
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '1m30s',
          'x-ratelimit-remaining-tokens': '500',
          'x-ratelimit-reset-tokens': '5m0s',
        }),
        now,
      ),
    ).toBe(90_000)
    expect(retryAfterMs(h({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '20ms' }), now)).toBe(20)
    expect(
      retryAfterMs(
        h({
          'anthropic-ratelimit-tokens-remaining': '0',
          'anthropic-ratelimit-tokens-reset': new Date(now + 4_000).toISOString(),
        }),
        now,
      ),
    ).toBe(4_000)
  })
})

describe('statusError', () => {
  it('maps statuses to the Provider contract', () => {
    const none = new Headers()
    const code = (status: number): string => statusError('p', status, 'm', none, []).code
    expect([429, 500, 502, 503, 529, 408, 401, 403, 400, 404, 422].map(code)).toEqual([
      'RATE_LIMITED',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'UNAUTHENTICATED',
      'UNAUTHENTICATED',
      'INVALID_INPUT',
      'INVALID_INPUT',
      'INVALID_INPUT',
    ])
    expect(statusError('p', 408, 'm', none, []).details).toMatchObject({ kind: 'timeout' })
  })

  it('redacts secrets', () => {
    expect(redact('key sk-abc123 and sk-abc123 again', ['sk-abc123'])).toBe('key [redacted] and [redacted] again')
    expect(statusError('p', 400, 'bad key sk-abc123', new Headers(), ['sk-abc123']).message).not.toContain('sk-abc123')
  })
})
