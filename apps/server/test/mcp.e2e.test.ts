import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import {
  LATEST_PROTOCOL_VERSION,
  McpError,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ServeHandle } from './helpers.js'
import { REPO_ROOT, assertBuilt, runCli, startServe, tempDirs } from './helpers.js'
import type { Json } from './server-clients.js'
import { adminToken, cliJson, exampleWorkflow, rest, within } from './server-clients.js'

/**
 * MCP over Streamable HTTP against the real `shiioo serve`: the SDK's own client, the REST API's
 * tokens, the orchestrator's services behind every request (admitted, tenant-scoped, audited).
 */

const ADMIN = adminToken('mcp')
const ALLOWED_ORIGIN = 'https://ops.example.com'
const TENANT_B = 'tenant-b'
const MAX_BODY = 64 * 1024
const dirs = tempDirs()
let server: ServeHandle
let mcpUrl: URL
let viewerToken = ''
let tokenB = ''
/** A run of the admin's tenant, waiting for its approval. */
let runA = ''

beforeAll(async () => {
  assertBuilt()
  const home = await dirs.make('shiioo-mcp-e2e-')
  const dataDir = join(home, 'data')
  await writeFile(
    join(home, 'shiioo.toml'),
    `[http]\ncors_origins = ["${ALLOWED_ORIGIN}"]\nmax_body_bytes = ${MAX_BODY}\n[storage]\ndata_dir = "data"\n`,
  )
  const cli = (args: string[]) => cliJson(dataDir, args)
  await mkdir(dataDir)
  await cli(['principal', 'create', 'vera', '--role', 'viewer'])
  viewerToken = (await cli(['token', 'create', 'vera'])).token as string
  await cli(['principal', 'create', 'intruder', '--role', 'admin', '--tenant', TENANT_B])
  tokenB = (await cli(['token', 'create', 'intruder', '--tenant', TENANT_B])).token as string
  server = await startServe(['--port', '0'], {
    cwd: home,
    env: { SHIIOO_ADMIN_TOKEN: ADMIN, SHIIOO_LOG_LEVEL: 'error' },
  })
  mcpUrl = new URL(`${server.url}/mcp`)
  const gate = await exampleWorkflow('approval-gate')
  const registered = await rest(server.url, 'POST', '/api/workflows', { token: ADMIN, body: { text: gate } })
  expect(registered.status).toBe(200)
})

afterAll(async () => {
  await server?.stop()
  await dirs.cleanup()
})

const clients: Client[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function connect(token: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(mcpUrl, {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  })
  const client = new Client({ name: 'e2e', version: '1' })
  await client.connect(transport)
  clients.push(client)
  return { client, transport }
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult
}

/** The JSON-RPC error a request fails with. */
async function rpcError(request: Promise<unknown>): Promise<{ code: number; message: string; data: Json }> {
  try {
    await request
  } catch (err) {
    if (err instanceof McpError) return { code: err.code, message: err.message, data: err.data }
    throw err
  }
  throw new Error('the request did not fail')
}

/** A raw MCP POST; the answer's JSON-RPC message whether it came as JSON or as one SSE event. */
async function post(
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; json: Json }> {
  const res = await fetch(mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  const data = /^data: (.*)$/m.exec(text)?.[1]
  return { status: res.status, headers: res.headers, json: text === '' ? null : JSON.parse(data ?? text) }
}

const initialize = (protocolVersion: string) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
})

async function startGate(client: Client): Promise<string> {
  const started = await call(client, 'shiioo.runs.start', { workflow: 'approval-gate', input: { version: '7.0' } })
  expect(started.isError).toBeFalsy()
  return (started.structuredContent as { runId: string }).runId
}

async function waitingForApproval(runId: string): Promise<void> {
  const waited = await within(15_000, async () => {
    const res = await rest(server.url, 'GET', '/api/approvals', { token: ADMIN })
    return (res.body.items as Array<{ runId: string }>).some((a) => a.runId === runId)
  })
  expect(waited).not.toBeNull()
}

describe('/mcp on the real server', () => {
  it('initializes a session with the negotiated protocol, tools, resources (subscribable), logging and instructions', async () => {
    const { client, transport } = await connect(ADMIN)
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(client.getServerVersion()).toMatchObject({ name: 'shiioo' })
    expect(client.getServerCapabilities()).toMatchObject({ tools: {}, logging: {}, resources: { subscribe: true } })
    expect(client.getInstructions()).toContain('shiioo://runs/{runId}')
    expect(transport.protocolVersion).toBe(LATEST_PROTOCOL_VERSION)
  })

  it('negotiates the protocol version: an older supported one is kept, an unknown one gets the latest', async () => {
    const auth = { authorization: `Bearer ${ADMIN}` }
    const older = await post(initialize('2025-03-26'), auth)
    expect(older.status).toBe(200)
    expect(older.json.result.protocolVersion).toBe('2025-03-26')
    const unknown = await post(initialize('1999-01-01'), auth)
    expect(unknown.json.result.protocolVersion).toBe(LATEST_PROTOCOL_VERSION)
    // a later request naming a version the server does not speak is refused
    const session = unknown.headers.get('mcp-session-id')!
    const list = await post(
      { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
      { ...auth, 'mcp-session-id': session, 'mcp-protocol-version': '1999-01-01' },
    )
    expect(list.status).toBe(400)
  })

  it('lists the tools an admin may use and calls core.echo', async () => {
    const { client } = await connect(ADMIN)
    const names = (await client.listTools()).tools.map((t) => t.name)
    expect(names).toEqual(expect.arrayContaining(['core.echo', 'http.fetch', 'shiioo.runs.start', 'shiioo.runs.get']))
    const echoed = await call(client, 'core.echo', { text: 'over /mcp' })
    expect(echoed.isError).toBeFalsy()
    expect(echoed.structuredContent).toEqual({ text: 'over /mcp' })
  })

  it('answers invalid arguments with an error result naming the field, and an unknown tool with -32602', async () => {
    const { client } = await connect(ADMIN)
    const invalid = await call(client, 'shiioo.runs.get', {})
    expect(invalid.isError).toBe(true)
    expect(invalid.structuredContent).toMatchObject({ error: { code: 'INVALID_INPUT', retryable: false } })
    expect(JSON.stringify(invalid.content)).toContain('runId')
    const unknown = await rpcError(client.callTool({ name: 'no.such-tool', arguments: {} }))
    expect(unknown).toMatchObject({ code: -32602, message: expect.stringContaining('Unknown tool: no.such-tool') })
  })

  it('starts a run with shiioo.runs.start and reads it with shiioo.runs.get and as resources', async () => {
    const { client } = await connect(ADMIN)
    runA = await startGate(client)
    expect(runA).toMatch(/^run_/)
    const got = await call(client, 'shiioo.runs.get', { runId: runA })
    expect(got.isError).toBeFalsy()
    expect(got.structuredContent).toMatchObject({ runId: runA, workflow: { name: 'approval-gate' } })

    const listed = (await client.listResources()).resources.map((r) => r.uri)
    expect(listed).toEqual(
      expect.arrayContaining([
        `shiioo://runs/${runA}`,
        `shiioo://runs/${runA}/events`,
        'shiioo://workflows/approval-gate',
      ]),
    )
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)
    expect(templates).toEqual(['shiioo://runs/{runId}', 'shiioo://runs/{runId}/events', 'shiioo://workflows/{name}'])
    const run = await client.readResource({ uri: `shiioo://runs/${runA}` })
    expect(run.contents[0]).toMatchObject({ uri: `shiioo://runs/${runA}`, mimeType: 'application/json' })
    expect(JSON.parse((run.contents[0] as { text: string }).text)).toMatchObject({ runId: runA })
    const events = await client.readResource({ uri: `shiioo://runs/${runA}/events` })
    const log = JSON.parse((events.contents[0] as { text: string }).text) as { runId: string; events: Json[] }
    expect(log.runId).toBe(runA)
    expect(log.events[0]).toMatchObject({ seq: 1, type: 'run.started' })
    const workflow = await client.readResource({ uri: 'shiioo://workflows/approval-gate' })
    expect(JSON.parse((workflow.contents[0] as { text: string }).text)).toMatchObject({
      name: 'approval-gate',
      definition: { name: 'approval-gate' },
    })
    const missing = await rpcError(client.readResource({ uri: 'shiioo://runs/not-a-run' }))
    expect(missing).toMatchObject({ code: -32002, data: { uri: 'shiioo://runs/not-a-run', code: 'NOT_FOUND' } })
  })

  it('sends notifications/resources/updated for a subscribed run as it moves', async () => {
    const { client } = await connect(ADMIN)
    const runId = await startGate(client)
    await waitingForApproval(runId)
    const updates: string[] = []
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri))
    await client.subscribeResource({ uri: `shiioo://runs/${runId}` })
    const decided = await rest(server.url, 'POST', `/api/runs/${runId}/approvals/review`, {
      token: ADMIN,
      body: { decision: 'approve' },
    })
    expect(decided.status).toBe(200)
    expect(await within(10_000, async () => updates.length > 0)).not.toBeNull()
    expect(updates[0]).toBe(`shiioo://runs/${runId}`)
    await client.unsubscribeResource({ uri: `shiioo://runs/${runId}` })
    // a workflow is not watched: the answer says so
    const workflow = await rpcError(client.subscribeResource({ uri: 'shiioo://workflows/approval-gate' }))
    expect(workflow).toMatchObject({ code: -32602, data: { code: 'INVALID_INPUT' } })
  })

  it('shows a viewer only what its role allows: no http.fetch, no run start', async () => {
    const { client } = await connect(viewerToken)
    const names = (await client.listTools()).tools.map((t) => t.name)
    expect(names).toContain('shiioo.runs.get')
    expect(names).not.toContain('http.fetch')
    expect(names).not.toContain('shiioo.runs.start')
    expect(
      await rpcError(client.callTool({ name: 'http.fetch', arguments: { url: 'http://127.0.0.1/' } })),
    ).toMatchObject({
      code: -32602,
      message: expect.stringContaining('Unknown tool: http.fetch'),
    })
  })

  it("answers another tenant's run exactly as a run that does not exist", async () => {
    expect(runA).not.toBe('')
    const unknownRun = runA.slice(0, -1) + (runA.endsWith('0') ? '1' : '0')
    const { client } = await connect(tokenB)
    const other = await call(client, 'shiioo.runs.get', { runId: runA })
    const none = await call(client, 'shiioo.runs.get', { runId: unknownRun })
    expect(other.isError).toBe(true)
    expect(other.structuredContent).toMatchObject({ error: { code: 'NOT_FOUND' } })
    expect(JSON.stringify(other).replaceAll(runA, 'RUN')).toBe(JSON.stringify(none).replaceAll(unknownRun, 'RUN'))
    for (const suffix of ['', '/events']) {
      const readOther = await rpcError(client.readResource({ uri: `shiioo://runs/${runA}${suffix}` }))
      const readNone = await rpcError(client.readResource({ uri: `shiioo://runs/${unknownRun}${suffix}` }))
      expect(readOther.code).toBe(-32002)
      expect(JSON.stringify(readOther).replaceAll(runA, 'RUN')).toBe(
        JSON.stringify(readNone).replaceAll(unknownRun, 'RUN'),
      )
    }
    const uris = (await client.listResources()).resources.map((r) => r.uri)
    expect(uris.some((u) => u.includes(runA))).toBe(false)
    // tenant A's session id lends nothing to tenant B's token
    const { transport } = await connect(ADMIN)
    const borrowed = await post(
      { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
      {
        authorization: `Bearer ${tokenB}`,
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
      },
    )
    expect(borrowed.status).toBe(404)
  })

  it('refuses no token (401), a bad token (401), a foreign Origin (403) and a body over the limit (413)', async () => {
    const none = await post(initialize(LATEST_PROTOCOL_VERSION), {})
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="shiioo"')
    expect(none.json.error).toMatchObject({ code: -32600, data: { code: 'UNAUTHENTICATED' } })
    const bad = await post(initialize(LATEST_PROTOCOL_VERSION), { authorization: 'Bearer not-a-token' })
    expect(bad.status).toBe(401)
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"')
    const foreign = await post(initialize(LATEST_PROTOCOL_VERSION), {
      authorization: `Bearer ${ADMIN}`,
      origin: 'https://evil.example.net',
    })
    expect(foreign.status).toBe(403)
    expect(foreign.json.error).toMatchObject({ data: { code: 'FORBIDDEN' } })
    const allowed = await post(initialize(LATEST_PROTOCOL_VERSION), {
      authorization: `Bearer ${ADMIN}`,
      origin: ALLOWED_ORIGIN,
    })
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN)
    expect(allowed.headers.get('access-control-expose-headers')).toContain('Mcp-Session-Id')
    const huge = JSON.stringify({ ...initialize(LATEST_PROTOCOL_VERSION), pad: 'x'.repeat(MAX_BODY) })
    const tooLarge = await post(huge, { authorization: `Bearer ${ADMIN}` })
    expect(tooLarge.status).toBe(413)
    expect(tooLarge.json.error).toMatchObject({ data: { code: 'PAYLOAD_TOO_LARGE' } })
  })

  it('ends a session on DELETE', async () => {
    const { client, transport } = await connect(ADMIN)
    const id = transport.sessionId!
    await transport.terminateSession()
    const after = await post(
      { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
      { authorization: `Bearer ${ADMIN}`, 'mcp-session-id': id, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
    )
    expect(after.status).toBe(404)
    await client.close()
  })

  it('audits every tool call as tool.invoke, with its outcome and an idempotency key', async () => {
    const { client } = await connect(ADMIN)
    await call(client, 'core.echo', { text: 'audited' })
    await call(client, 'shiioo.runs.get', {})
    const audit = await rest(server.url, 'GET', '/api/audit?action=tool.invoke&limit=1000', { token: ADMIN })
    expect(audit.status).toBe(200)
    const entries = audit.body.items as Array<{ subject: Json; outcome: Json; details: Json; actor: Json }>
    const echo = entries.find((e) => e.subject.id === 'core.echo')
    expect(echo).toMatchObject({ subject: { kind: 'tool' }, outcome: { status: 'ok' }, actor: { kind: 'user' } })
    expect(echo!.details.idempotencyKey).toMatch(/^call:[0-9a-f]{64}$/)
    expect(entries.find((e) => e.subject.id === 'shiioo.runs.get' && e.outcome.status !== 'ok')).toMatchObject({
      outcome: { code: 'INVALID_INPUT' },
    })
    expect(entries.some((e) => e.subject.id === 'shiioo.runs.start')).toBe(true)
  })
})

/** An MCP server of @shiioo/mcp's tests (tools echo, add, ...), for [[mcp.servers]] entries. */
const TEST_MCP_SERVER = join(REPO_ROOT, 'packages', 'mcp', 'test', 'fixtures', 'test-mcp-server.mjs')

describe('serve with [[mcp.servers]] that do not work', () => {
  it('stops start-up with exit 2 when the catalog cannot work: two sources offering one name', async () => {
    const home = await dirs.make('shiioo-mcp-conflict-')
    // under the prefix "core", the server's echo is core.echo: the built-in's name
    await writeFile(
      join(home, 'shiioo.toml'),
      `[[mcp.servers]]\nprefix = "core"\ncommand = ${JSON.stringify(process.execPath)}\nargs = [${JSON.stringify(TEST_MCP_SERVER)}]\n`,
    )
    const result = await runCli(['serve', '--port', '0', '--data-dir', join(home, 'data')], { cwd: home })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/config error: tools: .*core\.echo/)
    expect(result.stderr).toContain('[[mcp.servers]]')
    expect(result.stderr).not.toContain('listening')
  })

  it('starts without a server that cannot start, says so, and its tools are not offered', async () => {
    const home = await dirs.make('shiioo-mcp-down-')
    await writeFile(
      join(home, 'shiioo.toml'),
      '[[mcp.servers]]\nprefix = "broken"\ncommand = "shiioo-no-such-command-for-this-test"\ntimeout_ms = 5000\n',
    )
    const down = await startServe(['--port', '0', '--data-dir', join(home, 'data')], {
      cwd: home,
      env: { SHIIOO_ADMIN_TOKEN: ADMIN, SHIIOO_LOG_LEVEL: 'error' },
    })
    try {
      const client = new Client({ name: 'e2e', version: '1' })
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${down.url}/mcp`), {
          requestInit: { headers: { Authorization: `Bearer ${ADMIN}` } },
        }),
      )
      clients.push(client)
      const names = (await client.listTools()).tools.map((t) => t.name)
      expect(names).toContain('core.echo')
      expect(names.some((n) => n.startsWith('broken.'))).toBe(false)
    } finally {
      const result = await down.stop()
      expect(result.stderr).toMatch(
        /shiioo: warning: mcp server "broken" .*could not be started: .*; its tools are unavailable until it starts/,
      )
    }
  })
})
