import { parseTenantId } from '@shiioo/core'
import { FakeClock } from '@shiioo/testkit'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { LATEST_PROTOCOL_VERSION, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { afterEach, describe, expect, it } from 'vitest'
import type { McpHttpHandlerOptions } from '../src/index.js'
import { mcpHttpHandler } from '../src/index.js'
import type { Endpoint } from './fixtures/http-endpoint.js'
import { authenticate, listen as listenOn } from './fixtures/http-endpoint.js'

const endpoints: Endpoint[] = []
const clients: Client[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  await Promise.all(endpoints.splice(0).map((e) => e.close()))
})

async function listen(options: Partial<McpHttpHandlerOptions> = {}): Promise<Endpoint> {
  const endpoint = await listenOn(options)
  endpoints.push(endpoint)
  return endpoint
}

async function connect(endpoint: Endpoint, token = 'tok-ana'): Promise<{ client: Client; sessionId: string }> {
  const transport = new StreamableHTTPClientTransport(endpoint.url, {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  })
  const client = new Client({ name: 'test', version: '1' })
  await client.connect(transport)
  clients.push(client)
  return { client, sessionId: transport.sessionId! }
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
}
const LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }

/** A raw MCP POST, for what the SDK client would never send; a header given as '' is left out. */
function post(endpoint: Endpoint, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const all = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: 'Bearer tok-ana',
    ...headers,
  }
  return fetch(endpoint.url, {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(all).filter(([, value]) => value !== '')),
    body: JSON.stringify(body),
  })
}

async function errorOf(response: Response): Promise<{ code: number; message: string; data?: unknown }> {
  const body = (await response.json()) as { error: { code: number; message: string; data?: unknown } }
  return body.error
}

describe('mcpHttpHandler over real HTTP', () => {
  it('initializes a session, lists and calls tools as the token caller', async () => {
    const endpoint = await listen()
    const { client, sessionId } = await connect(endpoint)
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(endpoint.handler.sessions.size).toBe(1)
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('test.echo')
    const r = await client.callTool({ name: 'test.echo', arguments: { text: 'over http' } })
    expect(r.structuredContent).toEqual({ text: 'over http', actor: 'user:ana' })
  })

  it('answers an unknown tool with InvalidParams, and a tool error or invalid arguments with isError', async () => {
    const endpoint = await listen()
    const { client } = await connect(endpoint)
    await expect(client.callTool({ name: 'nope.nope', arguments: {} })).rejects.toMatchObject({ code: -32602 })
    const failed = await client.callTool({ name: 'test.fail', arguments: { code: 'RATE_LIMITED' } })
    expect(failed).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'RATE_LIMITED: failed on purpose with RATE_LIMITED' }],
      structuredContent: { error: { code: 'RATE_LIMITED', retryable: true } },
    })
    const invalid = await client.callTool({ name: 'test.add', arguments: { a: 'one', b: 2 } })
    expect(invalid.content).toEqual([{ type: 'text', text: 'INVALID_INPUT: input.a must be a number' }])
  })

  it('refuses an Origin that is not allowed with 403, and takes an allowed one or none', async () => {
    const endpoint = await listen()
    const refused = await post(endpoint, INITIALIZE, { origin: 'http://evil.example' })
    expect(refused.status).toBe(403)
    expect(await errorOf(refused)).toMatchObject({ message: 'Forbidden: origin http://evil.example is not allowed' })
    const allowed = await post(endpoint, INITIALIZE, { origin: 'http://localhost:5173' })
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('mcp-session-id')).toBeTruthy()
    await allowed.body?.cancel()
    expect(() => mcpHttpHandler({ authenticate, createServer: () => never(), allowedOrigins: ['localhost'] })).toThrow(
      /allowedOrigins: "localhost" is not an origin/,
    )
  })

  it('answers a missing or invalid token 401 with WWW-Authenticate: Bearer, a refused one 403', async () => {
    const endpoint = await listen()
    const missing = await post(endpoint, INITIALIZE, { authorization: '' })
    expect(missing.status).toBe(401)
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="shiioo"')
    expect(await errorOf(missing)).toMatchObject({ data: { code: 'UNAUTHENTICATED', retryable: false } })
    const invalid = await post(endpoint, INITIALIZE, { authorization: 'Bearer tok-nobody' })
    expect(invalid.status).toBe(401)
    expect(invalid.headers.get('www-authenticate')).toBe('Bearer realm="shiioo", error="invalid_token"')
    expect(await errorOf(invalid)).toMatchObject({ message: 'the token is not valid' })
    const suspended = await post(endpoint, INITIALIZE, { authorization: 'Bearer tok-suspended' })
    expect(suspended.status).toBe(403)
    expect(suspended.headers.get('www-authenticate')).toBeNull()
    expect(await errorOf(suspended)).toMatchObject({
      message: 'the principal is suspended',
      data: { code: 'FORBIDDEN' },
    })
    const broken = await post(endpoint, INITIALIZE, { authorization: 'Bearer tok-broken' })
    expect(broken.status).toBe(500)
    expect(await broken.text()).not.toMatch(/secret/)
    // the SDK client gets the 401 as an error
    await expect(connect(endpoint, 'tok-nobody')).rejects.toThrow(/401|not valid/)
    expect(endpoint.handler.sessions.size).toBe(0)
  })

  it('binds a session to its caller: another token on its id is answered like an unknown session', async () => {
    const endpoint = await listen()
    const { sessionId } = await connect(endpoint, 'tok-ana')
    const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION }
    for (const token of ['tok-bob', 'tok-eve']) {
      const hijack = await post(endpoint, LIST, { ...headers, authorization: `Bearer ${token}` })
      expect(hijack.status).toBe(404)
      expect(await errorOf(hijack)).toEqual({ code: -32001, message: 'Session not found' })
    }
    // the same principal with other roles is the same caller, and its latest roles apply
    const own = await post(endpoint, { ...LIST, id: 3 }, { ...headers, authorization: 'Bearer tok-ana-admin' })
    expect(own.status).toBe(200)
    expect(await own.text()).toContain('admin.purge')
  })

  it('answers an unknown session 404, a request without one 400, and ends a session on DELETE', async () => {
    const endpoint = await listen()
    const unknown = await post(endpoint, LIST, { 'mcp-session-id': '00000000-0000-4000-8000-000000000000' })
    expect(unknown.status).toBe(404)
    const noSession = await post(endpoint, LIST)
    expect(noSession.status).toBe(400)
    await noSession.body?.cancel()
    const get = await fetch(endpoint.url, { headers: { authorization: 'Bearer tok-ana', accept: 'text/event-stream' } })
    expect(get.status).toBe(400)
    await get.body?.cancel()
    expect(endpoint.handler.sessions.size).toBe(0)

    const { sessionId } = await connect(endpoint)
    const headers = { authorization: 'Bearer tok-ana', 'mcp-session-id': sessionId }
    const deleted = await fetch(endpoint.url, { method: 'DELETE', headers })
    expect(deleted.status).toBe(200)
    expect(endpoint.handler.sessions.size).toBe(0)
    expect((await post(endpoint, LIST, headers)).status).toBe(404)
  })

  it('answers an unsupported MCP-Protocol-Version header with 400 (the SDK negotiates versions)', async () => {
    const endpoint = await listen()
    const { sessionId } = await connect(endpoint)
    const r = await post(endpoint, LIST, { 'mcp-session-id': sessionId, 'mcp-protocol-version': '1999-01-01' })
    expect(r.status).toBe(400)
    expect((await errorOf(r)).message).toMatch(/Unsupported protocol version: 1999-01-01/)
    const ok = await post(endpoint, LIST, { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' })
    expect(ok.status).toBe(200)
    await ok.body?.cancel()
  })

  it('closes a session idle for idleTimeoutMs (on its timer, by the clock)', async () => {
    const clock = new FakeClock(Date.now())
    const endpoint = await listen({ clock, idleTimeoutMs: 60_000 })
    const { client, sessionId } = await connect(endpoint)
    clock.advance(59_000)
    await client.listTools()
    clock.advance(59_000)
    expect(endpoint.handler.sessions.size).toBe(1)
    clock.advance(1_000)
    expect(endpoint.handler.sessions.size).toBe(0)
    expect(clock.pending).toBe(0)
    const r = await post(endpoint, LIST, { 'mcp-session-id': sessionId })
    expect(r.status).toBe(404)
  })

  it('caps sessions: 503 over maxSessions, and a caller over its own cap loses its least recently used', async () => {
    const endpoint = await listen({ maxSessions: 3, maxSessionsPerCaller: 2 })
    const first = await connect(endpoint, 'tok-ana')
    await connect(endpoint, 'tok-ana')
    await connect(endpoint, 'tok-ana')
    expect(endpoint.handler.sessions.size).toBe(2)
    expect((await post(endpoint, LIST, { 'mcp-session-id': first.sessionId })).status).toBe(404)
    await connect(endpoint, 'tok-bob')
    const over = await post(endpoint, INITIALIZE, { authorization: 'Bearer tok-eve' })
    expect(over.status).toBe(503)
    expect(over.headers.get('retry-after')).toBe('30')
    expect(await errorOf(over)).toMatchObject({ data: { code: 'UNAVAILABLE', retryable: true } })
  })

  it("broadcasts a notification to the sessions of one tenant, on the client's GET stream", async () => {
    const endpoint = await listen()
    const received: Record<string, unknown[]> = { ana: [], eve: [] }
    for (const [name, token] of [
      ['ana', 'tok-ana'],
      ['eve', 'tok-eve'],
    ] as const) {
      const { client } = await connect(endpoint, token)
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void received[name]!.push(n.params.data))
    }
    await expect
      .poll(async () => {
        await endpoint.handler.sessions.broadcast(parseTenantId('acme'), {
          method: 'notifications/message',
          params: { level: 'info', data: { run: 'r1', status: 'completed' } },
        })
        return received.ana!.length
      })
      .toBeGreaterThan(0)
    expect(received.ana![0]).toEqual({ run: 'r1', status: 'completed' })
    expect(received.eve).toEqual([])
  })
})

function never(): never {
  throw new Error('not called')
}
