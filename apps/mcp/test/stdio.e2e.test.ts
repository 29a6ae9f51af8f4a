import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { LATEST_PROTOCOL_VERSION, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Serving, StdioSession } from './processes.js'
import {
  ADMIN_TOKEN,
  EXAMPLES,
  MCP_BIN,
  REPO_ROOT,
  assertBuilt,
  childEnv,
  ended,
  run,
  scratch,
  serve,
  shiiooJson,
  stdioSession,
} from './processes.js'

/**
 * shiioo-mcp as an MCP client starts it: the SDK's stdio client on the real process, on a data dir
 * of its own and in front of a real `shiioo serve`.
 */

/** An MCP server of @shiioo/mcp's tests (tools echo, add, ...), for [[mcp.servers]] entries. */
const TEST_MCP_SERVER = join(REPO_ROOT, 'packages', 'mcp', 'test', 'fixtures', 'test-mcp-server.mjs')

const dirs = scratch()
const sessions: StdioSession[] = []
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.client.close()))
})
afterAll(() => dirs.remove())
beforeAll(() => assertBuilt())

/** A data dir with the example workflows registered (and one detached run of approval-gate). */
async function preparedDataDir(): Promise<string> {
  const dataDir = await dirs.dir()
  await shiiooJson(dataDir, ['run', join(EXAMPLES, 'approval-gate.yaml'), '--input', 'version=v0.1', '--detach'])
  return dataDir
}

async function open(args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<StdioSession> {
  const session = await stdioSession(args, { cwd, env })
  sessions.push(session)
  return session
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult
}

/** What every mode must serve: the catalog as the caller sees it, Shiioo's own tools, errors. */
async function exerciseCatalog(client: Client): Promise<string> {
  expect(client.getServerVersion()).toMatchObject({ name: 'shiioo' })
  expect(client.getServerCapabilities()).toMatchObject({ tools: {}, resources: { subscribe: true } })
  const names = (await client.listTools()).tools.map((t) => t.name)
  expect(names).toEqual(expect.arrayContaining(['core.echo', 'http.fetch', 'shiioo.runs.start', 'shiioo.runs.get']))
  expect((await call(client, 'core.echo', { text: 'over stdio' })).structuredContent).toEqual({ text: 'over stdio' })
  const invalid = await call(client, 'shiioo.runs.get', {})
  expect(invalid).toMatchObject({ isError: true, structuredContent: { error: { code: 'INVALID_INPUT' } } })
  await expect(client.callTool({ name: 'no.such-tool', arguments: {} })).rejects.toMatchObject({
    code: -32602,
    message: 'MCP error -32602: Unknown tool: no.such-tool',
  })
  const started = await call(client, 'shiioo.runs.start', { workflow: 'approval-gate', input: { version: '2.0' } })
  expect(started.isError).toBeFalsy()
  const { runId } = started.structuredContent as { runId: string }
  const got = await call(client, 'shiioo.runs.get', { runId })
  expect(got.structuredContent).toMatchObject({ runId, workflow: { name: 'approval-gate' } })
  const read = await client.readResource({ uri: `shiioo://runs/${runId}/events` })
  expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ runId })
  await expect(client.readResource({ uri: 'shiioo://runs/nope' })).rejects.toMatchObject({
    code: -32002,
    message: 'MCP error -32002: Resource not found: shiioo://runs/nope',
  })
  return runId
}

describe('shiioo-mcp on a data dir', () => {
  it('serves the catalog as the local user (an admin), each call audited as tool.invoke', async () => {
    const dataDir = await preparedDataDir()
    const session = await open(['--data-dir', dataDir], dataDir)
    await exerciseCatalog(session.client)
    expect(session.errors).toEqual([])
    const audit = await shiiooJson(dataDir, ['audit', 'list', '--action', 'tool.invoke'])
    const entries = audit.items as Array<{
      actor: { id: string }
      subject: { id: string }
      outcome: { status: string }
    }>
    expect(entries.map((e) => e.subject.id)).toEqual(
      expect.arrayContaining(['core.echo', 'shiioo.runs.get', 'shiioo.runs.start']),
    )
    expect(entries.every((e) => e.actor.id.startsWith('local:'))).toBe(true)
  })

  it('writes only protocol on stdout and its logs on stderr, and ends when stdin closes', async () => {
    const dataDir = await dirs.dir()
    const child = spawn(process.execPath, [MCP_BIN, '--data-dir', dataDir, '--log-level', 'debug'], {
      cwd: dataDir,
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const lines: string[] = []
    const answered = new Promise<void>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line)
        if (line.includes('"id":2')) resolve()
      })
    })
    const stderr: string[] = []
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')))
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
    const send = (message: object) => child.stdin.write(`${JSON.stringify(message)}\n`)
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    })
    send({ jsonrpc: '2.0', method: 'notifications/initialized' })
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'core.echo', arguments: { text: 'raw' } } })
    await answered
    child.stdin.end()
    expect(await exited).toBe(0)
    expect(lines.length).toBe(2)
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' })
    expect(JSON.parse(lines[1]!).result.structuredContent).toEqual({ text: 'raw' })
    // the log lines (pino JSON) went to stderr
    expect(stderr.join('')).toContain('"msg":"shiioo-mcp serving MCP over stdio"')
  })

  it('ends on SIGTERM with exit 0', async () => {
    const dataDir = await dirs.dir()
    const child = spawn(process.execPath, [MCP_BIN, '--data-dir', dataDir], { cwd: dataDir, env: childEnv() })
    const done = ended(child)
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })}\n`, // answered once it serves
    )
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    child.kill('SIGTERM')
    const result = await done
    expect(result.code).toBe(0)
    expect(result.stdout.trim().split('\n')).toHaveLength(1)
  })

  it('answers usage problems and bad configuration on stderr with exit 2, nothing on stdout', async () => {
    const home = await dirs.dir()
    const node = (args: string[], env: Record<string, string> = {}) =>
      run(process.execPath, [MCP_BIN, ...args], { cwd: home, env })
    const help = await node(['--help'])
    expect(help).toMatchObject({ code: 0, stdout: '' })
    expect(help.stderr).toContain('Usage: shiioo-mcp')
    const unknown = await node(['--no-such-option'])
    expect(unknown).toMatchObject({ code: 2, stdout: '' })
    expect(unknown.stderr).toContain("Unknown option '--no-such-option'")
    const tenant = await node(['--tenant', 'Not A Tenant'])
    expect(tenant).toMatchObject({ code: 2, stdout: '' })
    expect(tenant.stderr).toContain('--tenant')

    await mkdir(join(home, 'bad'))
    await writeFile(
      join(home, 'bad', 'shiioo.toml'),
      // under the prefix "core", the test server's echo is core.echo: the built-in's name
      `[[mcp.servers]]\nprefix = "core"\ncommand = ${JSON.stringify(process.execPath)}\nargs = [${JSON.stringify(TEST_MCP_SERVER)}]\n`,
    )
    const broken = await run(process.execPath, [MCP_BIN, '--data-dir', join(home, 'data')], { cwd: join(home, 'bad') })
    expect(broken).toMatchObject({ code: 2, stdout: '' })
    expect(broken.stderr).toMatch(/config error: tools: .*core\.echo/)
    const noToken = await node(['--server', 'http://127.0.0.1:9'])
    expect(noToken).toMatchObject({ code: 2, stdout: '' })
    expect(noToken.stderr).toContain('SHIIOO_TOKEN')
  })
})

describe('shiioo-mcp --server', () => {
  let dataDir: string
  let server: Serving
  beforeAll(async () => {
    dataDir = await preparedDataDir()
    server = await serve(dataDir)
  })
  afterAll(async () => {
    await server?.stop()
  })

  it("passes every request to the server's /mcp as the token's principal, notifications back", async () => {
    const session = await open(['--server', server.url], dataDir, { SHIIOO_TOKEN: ADMIN_TOKEN })
    const runId = await exerciseCatalog(session.client)
    expect(session.errors).toEqual([])

    // a subscription through the proxy: the server's notification comes back over stdio
    const updates: string[] = []
    session.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri))
    await session.client.subscribeResource({ uri: `shiioo://runs/${runId}` })
    const decide = () =>
      fetch(`${server.url}/api/runs/${runId}/approvals/review`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve' }),
      })
    expect((await decide()).status).toBe(200)
    await expect.poll(() => updates, { timeout: 15_000 }).toContain(`shiioo://runs/${runId}`)

    const audit = await fetch(`${server.url}/api/audit?action=tool.invoke`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    const { items } = (await audit.json()) as { items: Array<{ subject: { id: string } }> }
    expect(items.map((e) => e.subject.id)).toEqual(expect.arrayContaining(['core.echo', 'shiioo.runs.start']))
  })

  it('takes the server from SHIIOO_SERVER, and reopens its session when the server restarts', async () => {
    const session = await open([], dataDir, { SHIIOO_SERVER: server.url, SHIIOO_TOKEN: ADMIN_TOKEN })
    expect((await call(session.client, 'core.echo', { n: 1 })).structuredContent).toEqual({ n: 1 })
    const { port } = server
    await server.stop()
    server = await serve(dataDir, { port })
    expect((await call(session.client, 'core.echo', { n: 2 })).structuredContent).toEqual({ n: 2 })
    expect((await session.client.listTools()).tools.length).toBeGreaterThan(0)
  })

  it('refuses to start with a token the server refuses: exit 1, the reason on stderr', async () => {
    const result = await run(process.execPath, [MCP_BIN, '--server', server.url], {
      cwd: dataDir,
      env: { SHIIOO_TOKEN: 'not-a-token-the-server-knows' },
    })
    expect(result).toMatchObject({ code: 1, stdout: '' })
    expect(result.stderr).toContain('refused the token in SHIIOO_TOKEN (HTTP 401)')
  })
})
