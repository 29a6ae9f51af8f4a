import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ShiiooApiError, createClient, readSse } from '../src/index.js'

/** A real HTTP server that answers as the Shiioo API does, for what the client does with answers. */
let url = ''
const server = createServer((req, res) => {
  const auth = req.headers.authorization
  if (req.url === '/api/runs/run_x' && auth === 'Bearer good') {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ runId: 'run_x', status: 'running' }))
  } else if (req.url?.startsWith('/api/runs/')) {
    res
      .writeHead(auth === 'Bearer good' ? 404 : 401, { 'content-type': 'application/json', 'x-request-id': 'req_1' })
      .end(
        JSON.stringify({
          error: {
            code: auth === 'Bearer good' ? 'NOT_FOUND' : 'UNAUTHENTICATED',
            message: 'no such run',
            retryable: false,
            details: { runId: 'run_y' },
            requestId: 'req_1',
          },
        }),
      )
  } else if (req.url === '/api/graphql' && req.headers.accept === 'text/event-stream') {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    // split mid-line and mid-field, with a comment and a keep-alive, as proxies do
    const chunks = [
      ': hi\n\nevent: ne',
      'xt\ndata: {"data":{"n":1}}\n',
      '\nevent: next\r\ndata: {"data":',
      '{"n":2}}\r\n\r\n',
      'event: complete\ndata:\n\n',
    ]
    let i = 0
    const timer = setInterval(() => {
      res.write(chunks[i++])
      if (i === chunks.length) {
        clearInterval(timer)
        res.end()
      }
    }, 5)
  } else if (req.url === '/api/graphql') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        errors: [{ message: 'run.cancel needs one of the roles admin', extensions: { code: 'FORBIDDEN' } }],
      }),
    )
  } else {
    res.writeHead(502).end('bad gateway')
  }
})

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe('createClient', () => {
  it('sends the token and returns the data of a typed operation', async () => {
    const client = createClient({ url: url + '/', token: 'good' })
    const run = await client.data(client.api.GET('/api/runs/{runId}', { params: { path: { runId: 'run_x' } } }))
    expect(run).toMatchObject({ runId: 'run_x', status: 'running' })
  })

  it("throws the server's error with its code, status, details and request id", async () => {
    const client = createClient({ url, token: 'good' })
    const err = await client
      .data(client.api.GET('/api/runs/{runId}', { params: { path: { runId: 'run_y' } } }))
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ShiiooApiError)
    expect(err).toMatchObject({ status: 404, code: 'NOT_FOUND', message: 'no such run', requestId: 'req_1' })
    expect((err as ShiiooApiError).details).toEqual({ runId: 'run_y' })
    const anonymous = createClient({ url })
    await expect(
      anonymous.data(anonymous.api.GET('/api/runs/{runId}', { params: { path: { runId: 'run_x' } } })),
    ).rejects.toMatchObject({ status: 401, code: 'UNAUTHENTICATED' })
  })

  it('names a server that cannot be reached, and an answer that is not the API', async () => {
    const down = createClient({ url: 'http://127.0.0.1:9' })
    await expect(down.data(down.api.GET('/api/health'))).rejects.toMatchObject({
      status: 0,
      code: 'UNAVAILABLE',
      retryable: true,
      message: expect.stringMatching(/cannot reach the Shiioo server at http:\/\/127\.0\.0\.1:9/) as unknown,
    })
    const proxy = createClient({ url })
    await expect(proxy.data(proxy.api.GET('/api/health'))).rejects.toMatchObject({ status: 502, code: 'INTERNAL' })
  })

  it('keeps a GraphQL error code, and reads a subscription over SSE across chunk boundaries', async () => {
    const client = createClient({ url, token: 'good' })
    await expect(client.graphql({ query: 'mutation { cancelRun }' })).rejects.toMatchObject({ code: 'FORBIDDEN' })
    let opened = false
    const seen: unknown[] = []
    for await (const data of client.subscribe({ query: 'subscription { n }' }, { onOpen: () => (opened = true) })) {
      expect(opened).toBe(true)
      seen.push(data)
    }
    expect(seen).toEqual([{ n: 1 }, { n: 2 }])
  })
})

describe('readSse', () => {
  it('parses fields, multi-line data, ids and ignores comments', async () => {
    const body = new Blob([': c\nid: 7\nevent: x\ndata: a\ndata: b\n\ndata: c\n\n']).stream()
    const out = []
    for await (const m of readSse(body)) out.push(m)
    expect(out).toEqual([
      { event: 'x', data: 'a\nb', id: '7' },
      { event: 'message', data: 'c', id: '7' },
    ])
  })
})
