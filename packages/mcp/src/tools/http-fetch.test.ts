import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { DEFAULT_TENANT, ShiiooError, type Json } from '@shiioo/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createToolCatalog } from '../catalog/catalog.js'
import { httpFetchTool, type HttpFetchOptions } from './http-fetch.js'

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

/** A real HTTP server on a loopback address, counting the requests it was sent per path. */
class TestServer {
  readonly hits = new Map<string, number>()
  private server: Server | undefined
  constructor(private readonly routes: Record<string, Handler>) {}

  async start(host = '127.0.0.1'): Promise<this> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1)
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk.toString()))
      req.on('end', () => (this.routes[path] ?? ((_q, r) => r.writeHead(404).end('no route')))(req, res, body))
    })
    await new Promise<void>((resolve) => this.server!.listen(0, host, resolve))
    return this
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port
  }

  url(path: string, host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`
  }

  total(): number {
    return [...this.hits.values()].reduce((a, b) => a + b, 0)
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections()
    await new Promise((resolve) => this.server?.close(resolve))
  }
}

const caller = { tenant: DEFAULT_TENANT, actor: 'agent:run/step', roles: [] }

async function fetcher(options: HttpFetchOptions) {
  const catalog = await createToolCatalog({
    sources: [{ id: 'builtin', tools: () => [httpFetchTool(options)] }],
    permits: () => true,
  })
  return (input: Json, signal = new AbortController().signal) =>
    catalog.call('http.fetch', input, { caller, signal, idempotencyKey: 'k' }) as Promise<Record<string, Json>>
}

/** The ShiiooError `promise` fails with (a success or another error fails the test). */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected a ShiiooError'),
    (error: unknown) => (expect(error).toBeInstanceOf(ShiiooError), error as ShiiooError),
  )

const EURO_BODY = `${'x'.repeat(9)}€yyyy` // € is 3 bytes: bytes 9, 10 and 11
let hangingClosed: Promise<void> = new Promise(() => undefined)
let markHanging: (() => void) | undefined
let hangingSeen: Promise<void> = new Promise(() => undefined)

const main = new TestServer({
  '/text': (_q, res) =>
    res
      .writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '5', 'set-cookie': 's=1' })
      .end('hello'),
  '/euro': (_q, res) => res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(EURO_BODY),
  '/large': (_q, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('z'.repeat(4 * 1024 * 1024)),
  '/latin1': (_q, res) =>
    res.writeHead(200, { 'content-type': 'text/plain; charset=iso-8859-1' }).end(Buffer.from([0x63, 0x61, 0x66, 0xe9])),
  '/gzip': (_q, res) =>
    res
      .writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
      .end(gzipSync('{"zipped":true}')),
  '/png': (_q, res) =>
    res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2])),
  '/nul': (_q, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(Buffer.from('a\0b')),
  '/echo': (req, res, body) =>
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ method: req.method, headers: req.headers, body })),
  '/redirect': (req, res) => {
    const to = new URL(req.url!, 'http://x').searchParams.get('to')!
    const status = Number(new URL(req.url!, 'http://x').searchParams.get('status') ?? 302)
    res.writeHead(status, { location: to }).end()
  },
  '/trickle': (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).write('a first part, and then nothing')
    hangingClosed = new Promise((resolve) => req.socket.once('close', () => resolve()))
    markHanging?.()
  },
  '/loop': (_q, res) => res.writeHead(302, { location: '/loop' }).end(),
  '/hang': (req) => {
    hangingClosed = new Promise((resolve) => req.socket.once('close', () => resolve()))
    markHanging?.()
  },
})
const other = new TestServer({ '/echo': (req, res) => res.writeHead(200).end(JSON.stringify(req.headers)) })
const second = new TestServer({ '/': (_q, res) => res.writeHead(200).end('second') }) // on 127.0.0.2

beforeAll(async () => {
  await Promise.all([main.start(), other.start(), second.start('127.0.0.2')])
})
afterAll(async () => {
  await Promise.all([main.stop(), other.stop(), second.stop()])
})

function awaitHanging(): Promise<void> {
  hangingSeen = new Promise((resolve) => (markHanging = resolve))
  return hangingSeen
}

describe('http.fetch against a loopback server it is allowed to reach', () => {
  const allowed = { allowPrivate: ['127.0.0.1'] }

  it('answers status, selected headers, text and the final URL', async () => {
    const fetch = await fetcher(allowed)
    const out = await fetch({ url: main.url('/text') })
    expect(out).toMatchObject({
      status: 200,
      statusText: 'OK',
      body: 'hello',
      binary: false,
      truncated: false,
      bytes: 5,
    })
    expect(out.url).toBe(main.url('/text'))
    expect(out.redirects).toBe(0)
    expect(out.headers).toMatchObject({ 'content-type': 'text/plain; charset=utf-8', 'content-length': '5' })
    expect(out.headers).not.toHaveProperty('set-cookie')
  })

  it('cuts at maxBytes without splitting a multi-byte character', async () => {
    const fetch = await fetcher(allowed)
    const cut = await fetch({ url: main.url('/euro'), maxBytes: 10 })
    expect(cut).toMatchObject({ body: 'x'.repeat(9), truncated: true, bytes: 10 })
    const justAfter = await fetch({ url: main.url('/euro'), maxBytes: 12 })
    expect(justAfter).toMatchObject({ body: `${'x'.repeat(9)}€`, truncated: true, bytes: 12 })
    const whole = await fetch({ url: main.url('/euro'), maxBytes: Buffer.byteLength(EURO_BODY) })
    expect(whole).toMatchObject({ body: EURO_BODY, truncated: false })
  })

  it('stops reading a large body at the configured limit, whatever the call asks', async () => {
    const fetch = await fetcher({ ...allowed, maxBytes: 1000 })
    const out = await fetch({ url: main.url('/large'), maxBytes: 10_000_000 })
    expect(out).toMatchObject({ truncated: true, bytes: 1000 })
    expect(out.body).toBe('z'.repeat(1000))
  })

  it('decodes gzip and declared charsets, and answers binary content as base64', async () => {
    const fetch = await fetcher(allowed)
    expect(await fetch({ url: main.url('/gzip') })).toMatchObject({ body: '{"zipped":true}', binary: false })
    expect(await fetch({ url: main.url('/latin1') })).toMatchObject({ body: 'café', binary: false })
    const png = await fetch({ url: main.url('/png') })
    expect(png).toMatchObject({ binary: true, bytes: 7 })
    expect(Buffer.from(png.body as string, 'base64')).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]))
    expect(await fetch({ url: main.url('/nul') })).toMatchObject({
      binary: true,
      body: Buffer.from('a\0b').toString('base64'),
    })
  })

  it('sends the method, headers and body, and refuses headers and bodies it does not allow', async () => {
    const fetch = await fetcher({ ...allowed, userAgent: 'test-agent' })
    const out = await fetch({ url: main.url('/echo'), method: 'POST', headers: { 'X-Thing': 'yes' }, body: 'héllo' })
    const echoed = JSON.parse(out.body as string) as { method: string; headers: Record<string, string>; body: string }
    expect(echoed).toMatchObject({ method: 'POST', body: 'héllo' })
    expect(echoed.headers).toMatchObject({ 'x-thing': 'yes', 'user-agent': 'test-agent', 'content-length': '6' })
    for (const input of <Json[]>[
      { url: main.url('/echo'), body: 'x' },
      { url: main.url('/echo'), headers: { Host: 'internal.example' } },
      { url: main.url('/echo'), headers: { 'Proxy-Authorization': 'x' } },
      { url: main.url('/echo'), headers: { 'x-bad': 'a\r\nInjected: 1' } },
      { url: main.url('/echo'), method: 'TRACE' },
    ]) {
      expect((await failure(fetch(input))).code).toBe('INVALID_INPUT')
    }
    expect(main.hits.get('/echo')).toBe(1)
  })

  it('follows redirects: 303 turns a POST into a GET without a body, 307 keeps both', async () => {
    const fetch = await fetcher(allowed)
    const via = (status: number) => main.url(`/redirect?status=${status}&to=${encodeURIComponent('/echo')}`)
    const seeOther = await fetch({ url: via(303), method: 'POST', body: 'payload' })
    expect(seeOther.redirects).toBe(1)
    expect(seeOther.url).toBe(main.url('/echo'))
    expect(JSON.parse(seeOther.body as string)).toMatchObject({ method: 'GET', body: '' })
    const temporary = await fetch({ url: via(307), method: 'PUT', body: 'payload' })
    expect(JSON.parse(temporary.body as string)).toMatchObject({ method: 'PUT', body: 'payload' })
  })

  it('drops credentials on a redirect to another origin and keeps them on the same one', async () => {
    const fetch = await fetcher(allowed)
    const headers = { Authorization: 'Bearer secret', 'X-Keep': '1' }
    const cross = await fetch({ url: main.url(`/redirect?to=${encodeURIComponent(other.url('/echo'))}`), headers })
    expect(JSON.parse(cross.body as string)).toMatchObject({ 'x-keep': '1' })
    expect(JSON.parse(cross.body as string)).not.toHaveProperty('authorization')
    const same = await fetch({ url: main.url(`/redirect?to=${encodeURIComponent('/echo')}`), headers })
    expect(JSON.parse(same.body as string).headers).toMatchObject({ authorization: 'Bearer secret' })
  })

  it('gives up after maxRedirects', async () => {
    const fetch = await fetcher({ ...allowed, maxRedirects: 3 })
    const before = main.hits.get('/loop') ?? 0
    const error = await failure(fetch({ url: main.url('/loop') }))
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.retryable).toBe(false)
    expect(error.details).toMatchObject({ kind: 'redirects', redirects: 4 })
    expect((main.hits.get('/loop') ?? 0) - before).toBe(4)
  })

  it('times out a server that never answers as retryable UNAVAILABLE', async () => {
    const fetch = await fetcher({ ...allowed, timeoutMs: 200 })
    const seen = awaitHanging()
    const error = await failure(fetch({ url: main.url('/hang') }))
    await seen
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.retryable).toBe(true)
    expect(error.details).toMatchObject({ kind: 'timeout', timeoutMs: 200 })
    await hangingClosed // the connection was closed, not left open
  })

  it('times out a body that never ends', async () => {
    const fetch = await fetcher({ ...allowed, timeoutMs: 200 })
    const seen = awaitHanging()
    const error = await failure(fetch({ url: main.url('/trickle') }))
    await seen
    expect(error.details).toMatchObject({ kind: 'timeout' })
    await hangingClosed
  })

  it('aborts the request when its signal aborts', async () => {
    const tool = httpFetchTool(allowed)
    const controller = new AbortController()
    const seen = awaitHanging()
    const pending = tool.call({ url: main.url('/hang') }, { caller, signal: controller.signal, idempotencyKey: 'k' })
    await seen
    controller.abort()
    const error = await failure(pending)
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.details.kind).toBe('aborted')
    await hangingClosed
  })

  it('answers a refused connection as retryable UNAVAILABLE', async () => {
    const gone = await new TestServer({}).start()
    const url = gone.url('/')
    await gone.stop()
    const error = await failure((await fetcher(allowed))({ url }))
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.retryable).toBe(true)
    expect(error.details).toMatchObject({ kind: 'connection', code: 'ECONNREFUSED' })
  })
})

describe('http.fetch refusing what it may not reach', () => {
  const refusal = async (fetch: Awaited<ReturnType<typeof fetcher>>, url: string) => {
    const error = await failure(fetch({ url }))
    expect(error.code).toBe('FORBIDDEN')
    return error
  }

  it.each([
    ['127.0.0.1', (p: number) => `http://127.0.0.1:${p}/text`, '127.0.0.1'],
    ['[::1]', (p: number) => `http://[::1]:${p}/text`, '::1'],
    ['the metadata address', () => 'http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['0.0.0.0', (p: number) => `http://0.0.0.0:${p}/text`, '0.0.0.0'],
    ['an IPv4-mapped address', (p: number) => `http://[::ffff:127.0.0.1]:${p}/text`, '::ffff:7f00:1'],
    ['a NAT64 address', (p: number) => `http://[64:ff9b::7f00:1]:${p}/text`, '64:ff9b::7f00:1'],
    ['a decimal address', (p: number) => `http://2130706433:${p}/text`, '127.0.0.1'],
    ['a hex address', (p: number) => `http://0x7f.1:${p}/text`, '127.0.0.1'],
    ['an octal address', (p: number) => `http://0177.0.0.1:${p}/text`, '127.0.0.1'],
    ['a private address', () => 'http://10.0.0.1/', '10.0.0.1'],
    ['a unique-local address', () => 'http://[fd00::1]/', 'fd00::1'],
    ['a CGNAT address', () => 'http://100.64.0.1/', '100.64.0.1'],
  ])('refuses %s, naming the address, before connecting', async (_what, url, address) => {
    const fetch = await fetcher({})
    const before = main.total()
    const error = await refusal(fetch, url(main.port))
    expect(error.message).toContain(address)
    expect(error.details).toMatchObject({ address, reason: 'address_not_allowed' })
    expect(main.total()).toBe(before)
  })

  it('refuses a name that resolves to loopback, and reaches it once the name is allowed', async () => {
    const before = main.total()
    const error = await refusal(await fetcher({}), main.url('/text', 'localhost'))
    expect(error.message).toMatch(/localhost \((127\.0\.0\.1|::1)\)/)
    expect(error.details).toMatchObject({ host: 'localhost', kind: 'loopback' })
    expect(main.total()).toBe(before)
    const out = await (await fetcher({ allowPrivate: ['localhost'] }))({ url: main.url('/text', 'localhost') })
    expect(out.body).toBe('hello')
  })

  it('checks the address of every redirect hop', async () => {
    const onlyFirst = await fetcher({ allowPrivate: ['127.0.0.1'] })
    const hop = main.url(`/redirect?to=${encodeURIComponent(second.url('/', '127.0.0.2'))}`)
    const error = await refusal(onlyFirst, hop)
    expect(error.message).toContain('127.0.0.2')
    expect(second.total()).toBe(0)
    // the hop is reachable: with its block allowed, the same redirect is followed
    const out = await (await fetcher({ allowPrivate: ['127.0.0.0/8'] }))({ url: hop })
    expect(out).toMatchObject({ body: 'second', redirects: 1, url: second.url('/', '127.0.0.2') })
  })

  it('checks the host of every redirect hop against allowHosts', async () => {
    const fetch = await fetcher({ allowHosts: ['127.0.0.1'], allowPrivate: ['127.0.0.1', 'localhost'] })
    expect((await fetch({ url: main.url('/text') })).body).toBe('hello')
    const before = main.hits.get('/echo') ?? 0
    const error = await refusal(fetch, main.url(`/redirect?to=${encodeURIComponent(main.url('/echo', 'localhost'))}`))
    expect(error.details).toMatchObject({ host: 'localhost', reason: 'host_not_allowed' })
    expect(main.hits.get('/echo') ?? 0).toBe(before)
  })

  it('refuses a redirect to another scheme', async () => {
    const fetch = await fetcher({ allowPrivate: ['127.0.0.1'] })
    const error = await refusal(fetch, main.url(`/redirect?to=${encodeURIComponent('file:///etc/passwd')}`))
    expect(error.message).toContain('file:')
  })

  it.each([
    'http://example.com.evil.test/',
    'http://evilexample.com/',
    'http://evil.test/?example.com',
    'http://example.org/',
    'http://xexample.org/',
  ])('allowHosts refuses %s', async (url) => {
    const fetch = await fetcher({ allowHosts: ['example.com', '*.example.org'] })
    const error = await refusal(fetch, url)
    expect(error.details.reason).toBe('host_not_allowed')
  })

  it('refuses credentials in the URL (example.com@evil is a request to evil)', async () => {
    const fetch = await fetcher({ allowHosts: ['example.com'] })
    for (const url of ['http://example.com@evil.test/', 'http://user:pw@example.com/']) {
      const error = await failure(fetch({ url }))
      expect(error.code).toBe('INVALID_INPUT')
      expect(error.message).toContain('credentials')
    }
  })

  it.each(['file:///etc/passwd', 'ftp://example.com/x', 'data:text/plain,hello', 'javascript:alert(1)', 'not a url'])(
    'refuses %s as bad input',
    async (url) => {
      const error = await failure((await fetcher({}))({ url }))
      expect(error.code).toBe('INVALID_INPUT')
      expect(error.message).toContain('input.url')
    },
  )

  it('refuses options it cannot honour at creation', () => {
    expect(() => httpFetchTool({ allowHosts: ['http://example.com/'] })).toThrow(/allowHosts/)
    expect(() => httpFetchTool({ allowHosts: ['*example.com'] })).toThrow(/allowHosts/)
    expect(() => httpFetchTool({ allowPrivate: ['10.0.0.0/40'] })).toThrow(/allowPrivate/)
    expect(() => httpFetchTool({ maxBytes: 0 })).toThrow(/maxBytes/)
    expect(() => httpFetchTool({ timeoutMs: 1.5 })).toThrow(/timeoutMs/)
  })
})
