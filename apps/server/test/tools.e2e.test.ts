import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliResult, ServeHandle } from './helpers.js'
import { assertBuilt, runCli, startServe, tempDirs } from './helpers.js'
import type { AuditEntry, Json } from './server-clients.js'
import { adminToken, cliJson, exampleWorkflow, gqlHttp, rest } from './server-clients.js'

/**
 * The tool catalog against the real `shiioo serve` process: listed and called over REST, GraphQL
 * and the CLI (with `--server`, as the token's principal, and on the data dir, as the local user),
 * as an admin and as a viewer; each call in the tenant's audit chain as `tool.invoke`.
 */

const ADMIN = adminToken('tools')
const UNKNOWN_RUN = 'run_01JH0000000000000000000000'
const dirs = tempDirs()
let dataDir: string
/** Where the CLI runs with `--server`: no data dir there, so everything goes through the server. */
let elsewhere: string
let server: ServeHandle
let base: string
let viewer = ''
let viewerId = ''
let runId = ''

beforeAll(async () => {
  assertBuilt()
  dataDir = await dirs.make('shiioo-tools-')
  elsewhere = await dirs.make('shiioo-tools-cli-')
  viewerId = (await cliJson(dataDir, ['principal', 'create', 'vera', '--role', 'viewer'])).id as string
  viewer = (await cliJson(dataDir, ['token', 'create', 'vera'])).token as string
  server = await startServe(['--port', '0'], {
    cwd: dataDir,
    env: { SHIIOO_DATA_DIR: dataDir, SHIIOO_ADMIN_TOKEN: ADMIN, SHIIOO_LOG_LEVEL: 'error' },
  })
  base = server.url
  const registered = await rest(base, 'POST', '/api/workflows', {
    token: ADMIN,
    body: { text: await exampleWorkflow('approval-gate') },
  })
  expect(registered.status).toBe(200)
})

afterAll(async () => {
  await server?.stop()
  await dirs.cleanup()
})

/** The CLI against the server, as the principal of `token`. */
const remote = (args: string[], token = ADMIN): Promise<CliResult> =>
  runCli([...args, '--server', base], { cwd: elsewhere, env: { SHIIOO_TOKEN: token } })
/** The CLI on the data dir, as the local user (an admin). */
const local = (args: string[]): Promise<CliResult> => runCli([...args, '--data-dir', dataDir], { cwd: dataDir })
const callTool = (name: string, input: Json, token = ADMIN, headers: Record<string, string> = {}) =>
  rest(base, 'POST', `/api/tools/${name}/call`, { token, body: { input }, headers })

describe('tools against the real server process', () => {
  it('lists and calls over REST: an admin every tool, a viewer only the tools that read; refusals in the error shape', async () => {
    const all = await rest(base, 'GET', '/api/tools', { token: ADMIN })
    expect(all.status).toBe(200)
    const names = (all.body.items as Array<{ name: string }>).map((t) => t.name)
    expect(names).toEqual(expect.arrayContaining(['core.echo', 'http.fetch', 'shiioo.runs.get', 'shiioo.runs.start']))
    const seen = await rest(base, 'GET', '/api/tools', { token: viewer })
    const viewerNames = (seen.body.items as Array<{ name: string; source: string }>).map((t) => t.name)
    expect(viewerNames).toContain('shiioo.runs.get')
    expect(viewerNames.filter((n) => !n.startsWith('shiioo.'))).toEqual([])
    expect((await rest(base, 'GET', '/api/tools/shiioo.runs.get', { token: viewer })).body.name).toBe('shiioo.runs.get')
    expect((await rest(base, 'GET', '/api/tools/http.fetch', { token: viewer })).status).toBe(404)

    expect((await callTool('core.echo', { hello: 'world' })).body).toEqual({
      tool: 'core.echo',
      output: { hello: 'world' },
    })
    const started = await callTool('shiioo.runs.start', { workflow: 'approval-gate', input: { version: '1' } }, ADMIN, {
      'Idempotency-Key': 'release-1',
    })
    expect(started.status, JSON.stringify(started.body)).toBe(200)
    runId = started.body.output.runId as string
    const again = await callTool('shiioo.runs.start', { workflow: 'approval-gate', input: { version: '1' } }, ADMIN, {
      'Idempotency-Key': 'release-1',
    })
    expect(again.body.output).toMatchObject({ runId, duplicate: true })
    const read = await callTool('shiioo.runs.get', { runId }, viewer)
    expect(read.body).toMatchObject({ tool: 'shiioo.runs.get', output: { runId, workflow: { name: 'approval-gate' } } })

    const bad = await callTool('shiioo.runs.get', { runId: 'nope' })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toMatchObject({ code: 'INVALID_INPUT', details: { field: 'input.runId' } })
    const unknown = await callTool('core.ecko', {})
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.message).toContain('did you mean core.echo?')
    const denied = await callTool('http.fetch', { url: 'https://example.com/' }, viewer)
    expect(denied.status).toBe(403)
    expect(denied.body.error).toMatchObject({ code: 'FORBIDDEN', details: { tool: 'http.fetch', action: 'tool.call' } })
    expect((await callTool('shiioo.runs.get', { runId: UNKNOWN_RUN })).body.error.code).toBe('NOT_FOUND')
  })

  it('lists and calls over GraphQL', async () => {
    const listed = await gqlHttp(
      base,
      viewer,
      '{ tools { name annotations { readOnly } } tool(name: "shiioo.runs.get") { source } }',
    )
    expect(listed.body.errors).toBeUndefined()
    expect(
      (listed.body.data.tools as Array<{ annotations: { readOnly: boolean } }>).every((t) => t.annotations.readOnly),
    ).toBe(true)
    expect(listed.body.data.tool).toEqual({ source: 'shiioo' })
    const call = 'mutation($name: String!, $input: JSON!) { callTool(name: $name, input: $input) { tool output } }'
    const read = await gqlHttp(base, viewer, call, { name: 'shiioo.runs.get', input: { runId } })
    expect(read.body.data.callTool).toMatchObject({ tool: 'shiioo.runs.get', output: { runId, status: 'running' } })
    const denied = await gqlHttp(base, viewer, call, { name: 'http.fetch', input: { url: 'https://example.com/' } })
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
    const bad = await gqlHttp(base, ADMIN, call, { name: 'shiioo.runs.get', input: { runId: 'nope' } })
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'input.runId' })
  })

  it('lists and calls with the CLI through the server, as the token’s principal, with its exit codes', async () => {
    const table = await remote(['tools', 'list'], viewer)
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/^NAME\s+SOURCE\s+ACCESS\s+DESCRIPTION\n/)
    expect(table.stdout).toMatch(/\nshiioo\.runs\.get\s+shiioo\s+read-only\s+\S/)
    expect(table.stdout).not.toContain('http.fetch')
    const all = JSON.parse((await remote(['tools', 'list', '--json'])).stdout) as Array<{ name: string }>
    const listed = (await rest(base, 'GET', '/api/tools', { token: ADMIN })).body.items as Array<{ name: string }>
    expect(all.map((t) => t.name)).toEqual(listed.map((t) => t.name))
    expect((await remote(['tools', 'list'])).stdout).toMatch(/\nhttp\.fetch\s+builtin\s+world\s+\S/)

    const echo = await remote([
      'tools',
      'call',
      'core.echo',
      '--input',
      'n=2',
      '--input',
      'text=hi',
      '--input-json',
      '{"list":[1]}',
    ])
    expect(echo.code, echo.stderr).toBe(0)
    expect(JSON.parse(echo.stdout)).toEqual({ list: [1], n: 2, text: 'hi' })
    const read = await remote(['tools', 'call', 'shiioo.runs.get', '--input', `runId=${runId}`, '--json'], viewer)
    expect(read.code, read.stderr).toBe(0)
    expect(JSON.parse(read.stdout)).toMatchObject({ tool: 'shiioo.runs.get', output: { runId } })
    const key = ['--idempotency-key', 'release-2']
    const start = [
      'tools',
      'call',
      'shiioo.runs.start',
      '--input',
      'workflow=approval-gate',
      '--input-json',
      '{"input":{"version":"2"}}',
      ...key,
    ]
    const first = JSON.parse((await remote(start)).stdout) as { runId: string; duplicate: boolean }
    expect(first.duplicate).toBe(false)
    expect(JSON.parse((await remote(start)).stdout)).toMatchObject({ runId: first.runId, duplicate: true })
    await rest(base, 'POST', `/api/runs/${first.runId}/cancel`, { token: ADMIN, body: {} })

    const bad = await remote(['tools', 'call', 'shiioo.runs.get', '--input', 'runId=nope'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('input.runId')
    const unknown = await remote(['tools', 'call', 'core.ecko'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('error: no tool named "core.ecko" (did you mean core.echo?)')
    const denied = await remote(['tools', 'call', 'http.fetch', '--input', 'url=https://example.com/'], viewer)
    expect(denied.code).toBe(1)
    expect(denied.stderr).toContain('needs the action tool.call')
    expect(denied.stdout).toBe('')
    const notJson = await remote(['tools', 'call', 'core.echo', '--input-json', '[1]'])
    expect(notJson.code).toBe(2)
  })

  it("records every call in the tenant's audit chain as tool.invoke, with the caller as actor", async () => {
    const page = await rest(base, 'GET', '/api/audit?action=tool.invoke&limit=1000', { token: ADMIN })
    const entries = page.body.items as AuditEntry[]
    const adminId = (await rest(base, 'GET', '/api/me', { token: ADMIN })).body.principal.id as string
    const by = (actor: string) =>
      entries
        .filter((e) => e.actor.id === actor)
        .map((e) => `${e.subject.id} ${e.outcome.status === 'ok' ? 'ok' : e.outcome.code}`)
    expect(by(viewerId)).toEqual(expect.arrayContaining(['shiioo.runs.get ok', 'http.fetch FORBIDDEN']))
    expect(by(adminId)).toEqual(
      expect.arrayContaining([
        'core.echo ok',
        'shiioo.runs.start ok',
        'shiioo.runs.get INVALID_INPUT',
        'core.ecko NOT_FOUND',
        'shiioo.runs.get NOT_FOUND',
      ]),
    )
    // REST, GraphQL and the CLI each called shiioo.runs.get as the viewer
    expect(by(viewerId).filter((e) => e === 'shiioo.runs.get ok')).toHaveLength(3)
    for (const e of entries) expect(e.actor.kind).toBe('user')
  })

  it('lists and calls with the CLI on the data dir, as the local user', async () => {
    await server.stop()
    const table = await local(['tools', 'list'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/\ncore\.echo\s+builtin\s+read-only\s+\S/)
    const read = await local(['tools', 'call', 'shiioo.runs.get', '--input', `runId=${runId}`])
    expect(read.code, read.stderr).toBe(0)
    expect(JSON.parse(read.stdout)).toMatchObject({ runId, status: 'running' })
    const unknown = await local(['tools', 'call', 'shiioo.runs.get', '--input', `runId=${UNKNOWN_RUN}`])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain(`no run ${UNKNOWN_RUN}`)
    const bad = await local(['tools', 'call', 'core.echo', '--input', 'novalue'])
    expect(bad.code).toBe(2)
    // another tenant's local user sees none of this tenant's runs
    const other = await local(['tools', 'call', 'shiioo.runs.get', '--input', `runId=${runId}`, '--tenant', 'tenant-b'])
    expect(other.code).toBe(1)
    expect(other.stderr.replace(runId, '<run>')).toBe(
      unknown.stderr.replace(UNKNOWN_RUN, '<run>').replace('default', 'tenant-b'),
    )

    const audit = (await cliJson(dataDir, ['audit', 'list', '--action', 'tool.invoke'])) as { items: AuditEntry[] }
    expect(
      audit.items.slice(0, 2).map((e) => [e.actor.id.startsWith('local:'), e.subject.id, e.outcome.status]),
    ).toEqual([
      [true, 'shiioo.runs.get', 'error'],
      [true, 'shiioo.runs.get', 'ok'],
    ])
  })
})
