import type { TenantId } from '@shiioo/core'
import { systemCaller } from '@shiioo/orchestrator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ErrorJson, RestStack } from './rest-helpers.js'
import {
  TAGS_TESTED_ELSEWHERE,
  apiClient,
  documentedOperations,
  errorJson,
  exampleYaml,
  okJson,
  openRestStack,
} from './rest-helpers.js'

// The tool catalog over REST, authenticated by the real identity service: an admin, a viewer made
// by the admin, and another tenant's admin.
const ADMIN = 'default-admin-token-0123456789abcdefghij'
const ACME_ADMIN = 'acme-admin-token-0123456789abcdefghijklm'
const UNKNOWN_RUN = 'run_01JH0000000000000000000000'
/** What a viewer sees: Shiioo's own tools that only read (every built-in tool needs `tool.call`). */
const VIEWER_TOOLS = [
  'shiioo.blobs.get',
  'shiioo.runs.events',
  'shiioo.runs.get',
  'shiioo.runs.search',
  'shiioo.runs.state',
  'shiioo.workflows.list',
]

interface Tool {
  name: string
  title?: string
  description: string
  inputSchema: { type: string }
  annotations: { readOnly: boolean; destructive: boolean; idempotent: boolean; openWorld: boolean }
  source: string
}
interface AuditEntry {
  actor: { kind: string; id: string }
  action: string
  subject: { kind: string; id: string | null }
  outcome: { status: string; code?: string }
  details: Record<string, unknown>
}

let stack: RestStack
let api: ReturnType<typeof apiClient>
let viewer = ''
let viewerId = ''
let adminId = ''

beforeAll(async () => {
  stack = await openRestStack({ app: { authenticate: (token) => stack.orchestrator.identity.authenticate(token) } })
  api = apiClient(stack.app)
  const { identity } = stack.orchestrator
  await identity.bootstrap(systemCaller('test'), { token: ADMIN })
  await identity.bootstrap(systemCaller('test', 'acme' as TenantId), { token: ACME_ADMIN })
  adminId = (await identity.whoami(await identity.authenticate(ADMIN))).actor.id
  const made = await identity.createPrincipal(systemCaller('test'), { kind: 'user', name: 'vera', roles: ['viewer'] })
  viewerId = made.id
  viewer = (await identity.createToken(systemCaller('test'), { principal: 'vera', name: 'laptop' })).token
  await stack.orchestrator.workflows.register(await identity.authenticate(ADMIN), {
    text: await exampleYaml('approval-gate'),
  })
})
afterAll(async () => {
  await stack.close()
})

const ok = okJson
const errorOf = errorJson
const asAdmin = { token: ADMIN }
const call = (name: string, input: unknown, options: { token?: string; key?: string } = {}) =>
  api.call('post', '/api/tools/{name}/call', {
    token: options.token ?? ADMIN,
    params: { name },
    body: { input },
    ...(options.key === undefined ? {} : { headers: { 'Idempotency-Key': options.key } }),
  })

describe('GET /api/tools', () => {
  it("lists the caller's tools: an admin all of them, a viewer only Shiioo's tools that read", async () => {
    const all = await ok<{ items: Tool[] }>(await api.call('get', '/api/tools', asAdmin))
    const names = all.items.map((t) => t.name)
    expect(names).toEqual([...names].sort())
    expect(names).toEqual(expect.arrayContaining(['core.echo', 'core.noop', 'http.fetch', ...VIEWER_TOOLS]))
    expect(names).toContain('shiioo.runs.start')
    expect(all.items.find((t) => t.name === 'core.echo')).toEqual({
      name: 'core.echo',
      title: 'Echo',
      description: expect.any(String),
      inputSchema: { type: 'object', additionalProperties: true },
      annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
      source: 'builtin',
    })
    expect(all.items.find((t) => t.name === 'http.fetch')?.annotations.openWorld).toBe(true)

    const seen = await ok<{ items: Tool[] }>(await api.call('get', '/api/tools', { token: viewer }))
    expect(seen.items.map((t) => t.name)).toEqual(VIEWER_TOOLS)
    await errorOf(await api.call('get', '/api/tools', { token: null }), 401, 'UNAUTHENTICATED')
  })

  it('reads one tool by its dotted name; one the caller may not call is answered as one that does not exist', async () => {
    const tool = await ok<Tool>(
      await api.call('get', '/api/tools/{name}', { ...asAdmin, params: { name: 'shiioo.runs.get' } }),
    )
    expect(tool).toMatchObject({ name: 'shiioo.runs.get', source: 'shiioo', annotations: { readOnly: true } })
    expect(
      await ok<Tool>(
        await api.call('get', '/api/tools/{name}', { token: viewer, params: { name: 'shiioo.runs.get' } }),
      ),
    ).toEqual(tool)
    const hidden = await errorOf(
      await api.call('get', '/api/tools/{name}', { token: viewer, params: { name: 'http.fetch' } }),
      404,
      'NOT_FOUND',
    )
    const none = await errorOf(
      await api.call('get', '/api/tools/{name}', { token: viewer, params: { name: 'http.fetcx' } }),
      404,
      'NOT_FOUND',
    )
    expect(hidden.message).toBe('no tool named "http.fetch"')
    const same = (e: ErrorJson['error']) => JSON.stringify({ ...e, requestId: null }).replaceAll('fetcx', 'fetch')
    expect(same(hidden)).toBe(same(none))
    // a name that is not a tool name is bad input, naming the path parameter
    for (const bad of ['nodot', 'a..b', '.a', 'a.', 'a%2Fb.c', 'x.'.repeat(70) + 'y']) {
      const error = await errorOf(
        await api.call('get', '/api/tools/{name}', { ...asAdmin, params: { name: bad } }),
        400,
        'INVALID_INPUT',
      )
      expect(error.details.field, bad).toBe('path.name')
    }
  })
})

describe('POST /api/tools/{name}/call', () => {
  it('calls core.echo and answers { tool, output }', async () => {
    const input = { text: 'hello', nested: { list: [1, 2, 3] } }
    expect(await ok(await call('core.echo', input))).toEqual({ tool: 'core.echo', output: input })
    expect(await ok(await call('core.noop', {}))).toEqual({ tool: 'core.noop', output: {} })
  })

  it("starts a run with shiioo.runs.start (the same Idempotency-Key, the same run), reads it with shiioo.runs.get; another tenant's run is NOT_FOUND as an unknown one", async () => {
    const start = { workflow: 'approval-gate', input: { version: '1.0' } }
    const first = await ok<{ output: { runId: string; duplicate: boolean } }>(
      await call('shiioo.runs.start', start, { key: 'rel-1' }),
    )
    expect(first.output.duplicate).toBe(false)
    const again = await ok<{ output: { runId: string; duplicate: boolean } }>(
      await call('shiioo.runs.start', start, { key: 'rel-1' }),
    )
    expect(again.output).toMatchObject({ runId: first.output.runId, duplicate: true })
    const other = await ok<{ output: { runId: string } }>(await call('shiioo.runs.start', start, { key: 'rel-2' }))
    expect(other.output.runId).not.toBe(first.output.runId)

    const { runId } = first.output
    const read = await ok<{ tool: string; output: { runId: string; workflow: { name: string } } }>(
      await call('shiioo.runs.get', { runId }),
    )
    expect(read).toMatchObject({ tool: 'shiioo.runs.get', output: { runId, workflow: { name: 'approval-gate' } } })
    expect(await ok(await call('shiioo.runs.get', { runId }, { token: viewer }))).toMatchObject({ output: { runId } })

    const theirs = await errorOf(await call('shiioo.runs.get', { runId }, { token: ACME_ADMIN }), 404, 'NOT_FOUND')
    const unknown = await errorOf(
      await call('shiioo.runs.get', { runId: UNKNOWN_RUN }, { token: ACME_ADMIN }),
      404,
      'NOT_FOUND',
    )
    expect({ ...theirs, requestId: null, message: theirs.message.replace(runId, UNKNOWN_RUN) }).toEqual({
      ...unknown,
      requestId: null,
    })
    for (const id of [runId, other.output.runId]) await stack.orchestrator.runs.cancel(systemCaller('test'), id)
  })

  it('refuses an input its schema does not accept (400, naming the field), before the tool runs', async () => {
    const bad = await errorOf(await call('shiioo.runs.get', { runId: 'run_nope' }), 400, 'INVALID_INPUT')
    expect(bad.message).toContain('input.runId')
    expect(bad.details).toMatchObject({ tool: 'shiioo.runs.get', field: 'input.runId' })
    expect(bad.details.errors).toEqual([expect.objectContaining({ path: 'input.runId', keyword: 'pattern' })])
    const missing = await errorOf(await call('shiioo.runs.get', {}), 400, 'INVALID_INPUT')
    expect(missing.details.field).toBe('input.runId')
    const extra = await errorOf(await call('shiioo.runs.get', { runId: UNKNOWN_RUN, x: 1 }), 400, 'INVALID_INPUT')
    expect(extra.details.field).toBe('input.x')
    // the body's own shape: an object under `input`, nothing else
    for (const [body, field] of [
      [{ input: [1] }, 'body.input'],
      [{ input: 'text' }, 'body.input'],
      [{}, 'body.input'],
      [{ input: {}, extra: 1 }, 'body'],
    ] as const) {
      const error = await errorOf(
        await api.call('post', '/api/tools/{name}/call', { ...asAdmin, params: { name: 'core.echo' }, body }),
        400,
        'INVALID_INPUT',
      )
      expect(error.details.field, JSON.stringify(body)).toBe(field)
    }
    const key = await errorOf(await call('core.echo', {}, { key: 'x'.repeat(201) }), 400, 'INVALID_INPUT')
    expect(key.details.field).toBe('header.idempotency-key')
  })

  it('answers an unknown tool 404 with close matches, and a tool the caller is not granted 403 naming the action', async () => {
    const unknown = await errorOf(await call('core.ecko', {}), 404, 'NOT_FOUND')
    expect(unknown.message).toBe('no tool named "core.ecko" (did you mean core.echo?)')
    expect(unknown.details.suggestions).toEqual(['core.echo'])
    const denied = await errorOf(
      await call('http.fetch', { url: 'https://example.com/' }, { token: viewer }),
      403,
      'FORBIDDEN',
    )
    expect(denied.details).toEqual({ tool: 'http.fetch', action: 'tool.call' })
    // a viewer's typo is not pointed at the tools it may not call
    const typo = await errorOf(await call('http.fetcx', {}, { token: viewer }), 404, 'NOT_FOUND')
    expect(typo.details.suggestions).toEqual([])
    const start = await errorOf(
      await call('shiioo.runs.start', { workflow: 'approval-gate', input: { version: '9' } }, { token: viewer }),
      403,
      'FORBIDDEN',
    )
    expect(start.details.action).toBe('run.start')
    expect((await stack.orchestrator.runs.list(systemCaller('test'), { status: 'running' })).items).toEqual([])
  })

  it("records every call in the caller's tenant's audit chain as tool.invoke, the caller as actor, the input as a digest", async () => {
    await ok(await call('core.echo', { secret: 'do-not-log-me' }))
    await errorOf(await call('core.ecko', {}, { token: viewer }), 404, 'NOT_FOUND')
    const page = await ok<{ items: AuditEntry[] }>(
      await api.call('get', '/api/audit', { ...asAdmin, query: { action: 'tool.invoke', limit: 1000 } }),
    )
    const entries = page.items
    expect(entries.every((e) => e.action === 'tool.invoke')).toBe(true)
    expect(entries[0]).toMatchObject({
      actor: { kind: 'user', id: viewerId },
      subject: { kind: 'tool', id: 'core.ecko' },
      outcome: { status: 'error', code: 'NOT_FOUND' },
    })
    expect(entries[1]).toMatchObject({
      actor: { kind: 'user', id: adminId },
      subject: { kind: 'tool', id: 'core.echo' },
      outcome: { status: 'ok' },
      details: { input: expect.stringMatching(/^[0-9a-f]{16}$/), idempotencyKey: expect.stringMatching(/^call:/) },
    })
    expect(JSON.stringify(entries)).not.toContain('do-not-log-me')
    // every call this file made is there: each tool and outcome seen above
    const seen = new Set(entries.map((e) => `${e.subject.id} ${e.outcome.status} ${e.outcome.code ?? ''}`.trim()))
    for (const expected of [
      'core.echo ok',
      'core.noop ok',
      'shiioo.runs.start ok',
      'shiioo.runs.get ok',
      'shiioo.runs.get error INVALID_INPUT',
      'http.fetch denied FORBIDDEN',
      'shiioo.runs.start denied FORBIDDEN',
    ]) {
      expect(seen, expected).toContain(expected)
    }
    // the other tenant's calls are in its own chain only
    const acme = await ok<{ items: AuditEntry[] }>(
      await api.call('get', '/api/audit', { token: ACME_ADMIN, query: { action: 'tool.invoke' } }),
    )
    expect(acme.items.map((e) => [e.subject.id, e.outcome.code])).toEqual([
      ['shiioo.runs.get', 'NOT_FOUND'],
      ['shiioo.runs.get', 'NOT_FOUND'],
    ])
  })
})

describe('the OpenAPI document', () => {
  it('every tools operation is exercised above', async () => {
    expect(TAGS_TESTED_ELSEWHERE.tools).toBe('rest-tools.test.ts')
    const mine = (await documentedOperations(stack.app)).filter((o) => o.tags.includes('tools')).map((o) => o.op)
    expect(mine.sort()).toEqual(['get /api/tools', 'get /api/tools/{name}', 'post /api/tools/{name}/call'])
    expect(mine.filter((op) => !api.covered.has(op))).toEqual([])
  })
})
