import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServeHandle } from './helpers.js'
import { assertBuilt, startServe, tempDirs } from './helpers.js'
import type { GqlReply, Json, Reply } from './server-clients.js'
import {
  adminToken,
  cliJson,
  collectFor,
  exampleWorkflow,
  gqlHttp,
  rest,
  sseFor,
  within,
  wsClient,
} from './server-clients.js'

/**
 * Tenant isolation against the real `shiioo serve`: tenant B's admin aims at tenant A's run,
 * workflow, approval, audit chain, principals and tokens over REST, GraphQL (queries and
 * mutations) and subscriptions (graphql-ws and SSE). Every read of one of A's ids answers exactly
 * what an id that does not exist answers (the bodies compared, apart from the ids and request
 * ids), listings show nothing of A, every change is refused and changes nothing in A (A's audit
 * chain included), and subscriptions deliver none of A's events while A's run moves.
 * Every operation of the OpenAPI document and every GraphQL root field is in the matrix: a new
 * one fails this test until it is added. Principals and tokens have no REST or GraphQL operation
 * yet: what B can learn of A's (its admin's and alice's principal ids, alice's token id and
 * prefix, alice's name) is looked for in everything B receives, and A's, as the CLI lists them,
 * are unchanged; their operations join the matrix through that check when they land.
 */

const ADMIN_A = adminToken('isolation')
const TENANT_B = 'tenant-b'
const dirs = tempDirs()
let dataDir: string
let server: ServeHandle
let base: string
let tokenB = ''

/** Tenant A's things, and ids of the same shape that exist nowhere. */
const A = {
  runId: '',
  workflow: 'tenant-a-gate',
  hash: '',
  adminId: '',
  aliceId: '',
  aliceTokenId: '',
  alicePrefix: '',
}
const UNKNOWN = {
  runId: '',
  workflow: 'no-such-gate',
  hash: 'cd'.repeat(32),
  aliceId: 'prn_01ARZ3NDEKTSV4RRFFQ69G5FAV',
  aliceTokenId: 'tok_01ARZ3NDEKTSV4RRFFQ69G5FAV',
}
let runB = ''

beforeAll(async () => {
  assertBuilt()
  dataDir = await dirs.make('shiioo-isolation-')
  const alice = await cliJson(dataDir, ['principal', 'create', 'alice', '--role', 'approver'])
  A.aliceId = alice.id as string
  const aliceToken = await cliJson(dataDir, ['token', 'create', 'alice'])
  A.aliceTokenId = aliceToken.view.id as string
  A.alicePrefix = aliceToken.view.prefix as string
  await cliJson(dataDir, ['principal', 'create', 'intruder', '--role', 'admin', '--tenant', TENANT_B])
  tokenB = (await cliJson(dataDir, ['token', 'create', 'intruder', '--tenant', TENANT_B])).token as string
  server = await startServe(['--port', '0'], {
    cwd: dataDir,
    env: { SHIIOO_DATA_DIR: dataDir, SHIIOO_ADMIN_TOKEN: ADMIN_A, SHIIOO_LOG_LEVEL: 'error' },
  })
  base = server.url

  const gate = await exampleWorkflow('approval-gate')
  const startedA = await rest(base, 'POST', '/api/runs', {
    token: ADMIN_A,
    body: { workflow: { text: gate.replace('name: approval-gate', `name: ${A.workflow}`) }, input: { version: '1' } },
  })
  expect(startedA.status).toBe(201)
  A.runId = startedA.body.runId as string
  A.hash = startedA.body.workflow.hash as string
  UNKNOWN.runId = A.runId.slice(0, -1) + (A.runId.endsWith('0') ? '1' : '0')
  const startedB = await rest(base, 'POST', '/api/runs', {
    token: tokenB,
    body: { workflow: { text: gate }, input: { version: 'b' } },
  })
  expect(startedB.status).toBe(201)
  runB = startedB.body.runId as string
  A.adminId = (await gqlHttp(base, ADMIN_A, '{ viewer { actor { id } } }')).body.data.viewer.actor.id as string
  const waiting = await within(10_000, async () => {
    const [a, b] = await Promise.all([approvals(ADMIN_A), approvals(tokenB)])
    return a.includes(A.runId) && b.includes(runB)
  })
  expect(waiting).not.toBeNull()
})

afterAll(async () => {
  await server?.stop()
  await dirs.cleanup()
})

async function approvals(token: string): Promise<string[]> {
  const res = await rest(base, 'GET', '/api/approvals', { token })
  return (res.body.items as Array<{ runId: string }>).map((a) => a.runId)
}

/**
 * Everything of A's that could be named, as strings that must not appear in what B receives; but
 * for `named`: what B itself named once it has (its own audit entries record the ids it asked
 * for, its own workflow may have the name of A's).
 */
function secretsOfA(named: { runId?: boolean; workflow?: boolean; identity?: boolean } = {}): string[] {
  return [
    ...(named.runId ? [] : [A.runId]),
    ...(named.workflow ? [] : [A.workflow]),
    A.hash,
    A.adminId,
    // B names A's principal and token ids in its own refused requests, and makes its own `alice`
    ...(named.identity ? [] : [A.aliceId, A.aliceTokenId, 'alice']),
    A.alicePrefix,
  ]
}

/** A body with the ids replaced by placeholders and the request ids removed: what is compared. */
function normalize(body: unknown, ids: Array<[string, string]>): string {
  let text = JSON.stringify(body, (k, v: unknown) => (k === 'requestId' ? undefined : v))
  for (const [id, placeholder] of ids) text = text.split(id).join(placeholder)
  return text
}

const AS_PLACEHOLDERS = (which: typeof A | typeof UNKNOWN): Array<[string, string]> => [
  [which.runId, '<run>'],
  [which.workflow, '<workflow>'],
  [which.hash, '<hash>'],
  [which.aliceId, '<principal>'],
  [which.aliceTokenId, '<token>'],
]

/** A's state as A's admin and the CLI read it. */
async function stateOfA(): Promise<Json> {
  const read = async (path: string): Promise<unknown> =>
    (await rest(base, 'GET', path, { token: ADMIN_A })).body as unknown
  return {
    run: await read(`/api/runs/${A.runId}`),
    events: await read(`/api/runs/${A.runId}/events`),
    runs: await read('/api/runs'),
    workflows: await read('/api/workflows'),
    versions: await read(`/api/workflows/${A.workflow}/versions`),
    approvals: await read('/api/approvals'),
    audit: await read('/api/audit/verify'),
    principals: await cliJson(dataDir, ['principal', 'list']),
    tokens: await cliJson(dataDir, ['token', 'list']),
  }
}

interface RestCase {
  method: string
  /** The OpenAPI path it exercises. */
  route: string
  path: (ids: typeof A | typeof UNKNOWN) => string
  body?: (ids: typeof A | typeof UNKNOWN) => unknown
}

/** Every operation that names one of A's things: answered to B as for an unknown id. */
const AIMED: RestCase[] = [
  { method: 'GET', route: '/api/runs/{runId}', path: (i) => `/api/runs/${i.runId}` },
  { method: 'GET', route: '/api/runs/{runId}/steps', path: (i) => `/api/runs/${i.runId}/steps` },
  { method: 'GET', route: '/api/runs/{runId}/events', path: (i) => `/api/runs/${i.runId}/events` },
  { method: 'GET', route: '/api/runs/{runId}/state', path: (i) => `/api/runs/${i.runId}/state?seq=1` },
  {
    method: 'GET',
    route: '/api/runs/{runId}/payloads/{blob}',
    path: (i) => `/api/runs/${i.runId}/payloads/${i.hash}`,
  },
  { method: 'POST', route: '/api/runs/{runId}/cancel', path: (i) => `/api/runs/${i.runId}/cancel`, body: () => ({}) },
  { method: 'POST', route: '/api/runs/{runId}/pause', path: (i) => `/api/runs/${i.runId}/pause`, body: () => ({}) },
  { method: 'POST', route: '/api/runs/{runId}/resume', path: (i) => `/api/runs/${i.runId}/resume` },
  { method: 'POST', route: '/api/runs/{runId}/replay', path: (i) => `/api/runs/${i.runId}/replay` },
  {
    method: 'POST',
    route: '/api/runs/{runId}/fork',
    path: (i) => `/api/runs/${i.runId}/fork`,
    body: () => ({ fromStep: 'review' }),
  },
  {
    method: 'POST',
    route: '/api/runs/{runId}/signals',
    path: (i) => `/api/runs/${i.runId}/signals`,
    body: () => ({ name: 'go', payload: { x: 1 } }),
  },
  {
    method: 'POST',
    route: '/api/runs/{runId}/approvals/{stepId}',
    path: (i) => `/api/runs/${i.runId}/approvals/review`,
    body: () => ({ decision: 'approve', comment: 'not mine' }),
  },
  { method: 'GET', route: '/api/workflows/{name}', path: (i) => `/api/workflows/${i.workflow}` },
  {
    method: 'GET',
    route: '/api/workflows/{name}',
    path: (i) => `/api/workflows/${i.workflow}?hash=${i.hash}`,
  },
  { method: 'GET', route: '/api/workflows/{name}/versions', path: (i) => `/api/workflows/${i.workflow}/versions` },
  { method: 'GET', route: '/api/costs', path: (i) => `/api/costs?by=step&runId=${i.runId}` },
  { method: 'GET', route: '/api/principals/{principal}', path: (i) => `/api/principals/${i.aliceId}` },
  {
    method: 'PUT',
    route: '/api/principals/{principal}/roles',
    path: (i) => `/api/principals/${i.aliceId}/roles`,
    body: () => ({ roles: ['admin'] }),
  },
  {
    method: 'POST',
    route: '/api/principals/{principal}/disable',
    path: (i) => `/api/principals/${i.aliceId}/disable`,
    body: () => ({}),
  },
  { method: 'GET', route: '/api/tokens', path: (i) => `/api/tokens?principal=${i.aliceId}` },
  {
    method: 'POST',
    route: '/api/tokens',
    path: () => '/api/tokens',
    body: (i) => ({ principal: i.aliceId, name: 'stolen' }),
  },
  { method: 'POST', route: '/api/tokens/{tokenId}/revoke', path: (i) => `/api/tokens/${i.aliceTokenId}/revoke` },
  // Shiioo's own tools, aimed at A's run: answered as the run service answers an unknown id
  ...(
    [
      ['shiioo.runs.get', (i) => ({ runId: i.runId })],
      ['shiioo.runs.events', (i) => ({ runId: i.runId })],
      ['shiioo.runs.state', (i) => ({ runId: i.runId, seq: 1 })],
      ['shiioo.runs.cancel', (i) => ({ runId: i.runId, reason: 'not mine' })],
      ['shiioo.approvals.decide', (i) => ({ runId: i.runId, stepId: 'review', decision: 'approve' })],
    ] as Array<[string, (i: typeof A | typeof UNKNOWN) => Record<string, unknown>]>
  ).map(([tool, input]) => ({
    method: 'POST',
    route: '/api/tools/{name}/call',
    path: () => `/api/tools/${tool}/call`,
    body: (i: typeof A | typeof UNKNOWN) => ({ input: input(i) }),
  })),
]

/** Listings and tenant-wide operations: B's answer shows nothing of A. */
const LISTINGS: Array<{ method: string; route: string; path: string; body?: unknown }> = [
  { method: 'GET', route: '/api/runs', path: '/api/runs?limit=500' },
  { method: 'GET', route: '/api/workflows', path: '/api/workflows' },
  { method: 'GET', route: '/api/approvals', path: '/api/approvals' },
  { method: 'GET', route: '/api/costs', path: '/api/costs?by=run' },
  { method: 'GET', route: '/api/capacity/sources', path: '/api/capacity/sources' },
  { method: 'GET', route: '/api/capacity/usage', path: '/api/capacity/usage' },
  { method: 'GET', route: '/api/audit', path: '/api/audit?limit=1000' },
  { method: 'GET', route: '/api/audit/verify', path: '/api/audit/verify' },
  { method: 'GET', route: '/api/audit/export', path: '/api/audit/export' },
  { method: 'GET', route: '/metrics', path: '/metrics' },
  { method: 'GET', route: '/api/metrics', path: '/api/metrics' },
  { method: 'GET', route: '/api/health', path: '/api/health' },
  { method: 'GET', route: '/api/health/live', path: '/api/health/live' },
  { method: 'GET', route: '/api/health/ready', path: '/api/health/ready' },
  { method: 'GET', route: '/api/me', path: '/api/me' },
  { method: 'GET', route: '/api/principals', path: '/api/principals' },
  { method: 'GET', route: '/api/tokens', path: '/api/tokens' },
  { method: 'GET', route: '/api/tools', path: '/api/tools' },
  { method: 'GET', route: '/api/tools/{name}', path: '/api/tools/shiioo.runs.search' },
  // Shiioo's own tools that list: B's runs, workflows and approvals only
  ...['shiioo.runs.search', 'shiioo.workflows.list', 'shiioo.approvals.pending'].map((tool) => ({
    method: 'POST',
    route: '/api/tools/{name}/call',
    path: `/api/tools/${tool}/call`,
    body: { input: {} },
  })),
]

const RUN_UPDATES = `subscription($runId: ID, $after: String) {
  runUpdates(runId: $runId, after: $after) { position runId event { seq type } }
}`

describe('tenant isolation against the real server process', () => {
  it("answers B's REST reads and changes of A's ids as for ids that do not exist, lists nothing of A, changes nothing in A", async () => {
    const before = await stateOfA()
    const covered = new Set<string>()
    const b = (method: string, path: string, body?: unknown): Promise<Reply> =>
      rest(base, method, path, { token: tokenB, ...(body === undefined ? {} : { body }) })

    for (const c of LISTINGS) {
      covered.add(`${c.method} ${c.route}`)
      const res = await b(c.method, c.path, c.body)
      expect(res.status, c.path).toBe(200)
      const text = typeof res.body === 'string' ? res.body : JSON.stringify(res.body)
      for (const secret of secretsOfA()) expect(text, `${c.path} names ${secret}`).not.toContain(secret)
    }
    for (const c of AIMED) {
      covered.add(`${c.method} ${c.route}`)
      const mine = await b(c.method, c.path(A), c.body?.(A))
      const unknown = await b(c.method, c.path(UNKNOWN), c.body?.(UNKNOWN))
      const what = `${c.method} ${c.path(A)}`
      expect(mine.status, what).toBe(unknown.status)
      expect(normalize(mine.body, AS_PLACEHOLDERS(A)), what).toBe(normalize(unknown.body, AS_PLACEHOLDERS(UNKNOWN)))
      if (c.route !== '/api/costs') {
        expect(mine.status, what).toBe(404)
        expect(mine.body.error.code, what).toBe('NOT_FOUND')
      }
      // what B named itself may come back in a refusal; nothing else of A's may
      const named = c.path(A) + JSON.stringify(c.body?.(A) ?? null)
      for (const secret of [A.adminId, A.aliceId, A.alicePrefix].filter((x) => !named.includes(x)))
        expect(JSON.stringify(mine.body), what).not.toContain(secret)
    }
    // B's own listings are B's: its run, its chain
    expect(((await b('GET', '/api/runs')).body.items as Array<{ runId: string }>).map((r) => r.runId)).toEqual([runB])
    expect((await b('GET', '/api/audit/verify')).body).toMatchObject({ tenant: TENANT_B, ok: true })
    // changes B may make are B's own: a workflow of A's name registered by B is B's, A's is as it was
    const gate = await exampleWorkflow('approval-gate')
    const text = gate.replace('name: approval-gate', `name: ${A.workflow}`).replace('Publish these', 'Ship these')
    covered.add('POST /api/workflows')
    const registered = await b('POST', '/api/workflows', { text })
    expect(registered.status, JSON.stringify(registered.body)).toBeLessThan(300)
    covered.add('POST /api/runs')
    const startedB = await b('POST', '/api/runs', { workflow: { text }, input: { version: 'b2' } })
    expect(startedB.status).toBe(201)
    expect(startedB.body.workflow.hash).not.toBe(A.hash)
    expect((await b('POST', `/api/runs/${startedB.body.runId}/cancel`, {})).status).toBe(200)
    // a principal of A's principal's name made by B is B's
    covered.add('POST /api/principals')
    const bAlice = await b('POST', '/api/principals', { kind: 'user', name: 'alice', roles: ['viewer'] })
    expect(bAlice.status, JSON.stringify(bAlice.body)).toBe(201)
    expect(bAlice.body.id).not.toBe(A.aliceId)

    expect(await stateOfA()).toEqual(before)

    // every documented operation is in the matrix (the public ones too)
    const doc = (await rest(base, 'GET', '/api/openapi.json', { token: null })).body as {
      paths: Record<string, Record<string, unknown>>
    }
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`),
    )
    for (const op of documented) expect(covered, `${op} is not in the isolation matrix`).toContain(op)
  })

  it("answers B's GraphQL queries and mutations of A's ids as for ids that do not exist, and changes nothing in A", async () => {
    const before = await stateOfA()
    const covered = new Set<string>()
    const aimed: Array<{
      field: string
      query: string
      vars: (i: typeof A | typeof UNKNOWN) => Record<string, unknown>
    }> = [
      { field: 'run', query: 'query($id: ID!) { run(id: $id) { runId status } }', vars: (i) => ({ id: i.runId }) },
      { field: 'events', query: 'query($id: ID!) { events(runId: $id) { seq type } }', vars: (i) => ({ id: i.runId }) },
      {
        field: 'stateAt',
        query: 'query($id: ID!) { stateAt(runId: $id, seq: 1) { runId status } }',
        vars: (i) => ({ id: i.runId }),
      },
      {
        field: 'costs',
        query: 'query($id: ID!) { costs(by: step, runId: $id) { key calls cost } }',
        vars: (i) => ({ id: i.runId }),
      },
      {
        field: 'cancelRun',
        query: 'mutation($id: ID!) { cancelRun(runId: $id) { status } }',
        vars: (i) => ({ id: i.runId }),
      },
      {
        field: 'pauseRun',
        query: 'mutation($id: ID!) { pauseRun(runId: $id) { status } }',
        vars: (i) => ({ id: i.runId }),
      },
      {
        field: 'resumeRun',
        query: 'mutation($id: ID!) { resumeRun(runId: $id) { status } }',
        vars: (i) => ({ id: i.runId }),
      },
      {
        field: 'forkRun',
        query: 'mutation($id: ID!) { forkRun(runId: $id, fromStep: "review") { runId } }',
        vars: (i) => ({ id: i.runId }),
      },
      {
        field: 'decideApproval',
        query: 'mutation($id: ID!) { decideApproval(runId: $id, stepId: "review", decision: approve) { status } }',
        vars: (i) => ({ id: i.runId }),
      },
      {
        field: 'signalRun',
        query: 'mutation($id: ID!) { signalRun(runId: $id, name: "go", payload: {x: 1}) { status } }',
        vars: (i) => ({ id: i.runId }),
      },
      {
        field: 'principal',
        query: 'query($p: String!) { principal(ref: $p) { id name } }',
        vars: (i) => ({ p: i.aliceId }),
      },
      {
        field: 'tokens',
        query: 'query($p: String) { tokens(principal: $p) { id prefix } }',
        vars: (i) => ({ p: i.aliceId }),
      },
      {
        field: 'setRoles',
        query: 'mutation($p: String!) { setRoles(principal: $p, roles: [admin]) { id } }',
        vars: (i) => ({ p: i.aliceId }),
      },
      {
        field: 'disablePrincipal',
        query: 'mutation($p: String!) { disablePrincipal(principal: $p) { id } }',
        vars: (i) => ({ p: i.aliceId }),
      },
      {
        field: 'createToken',
        query: 'mutation($p: String!) { createToken(principal: $p, name: "stolen") { token } }',
        vars: (i) => ({ p: i.aliceId }),
      },
      {
        field: 'revokeToken',
        query: 'mutation($t: ID!) { revokeToken(tokenId: $t) { id } }',
        vars: (i) => ({ t: i.aliceTokenId }),
      },
      {
        field: 'callTool',
        query: 'mutation($input: JSON!) { callTool(name: "shiioo.runs.get", input: $input) { tool output } }',
        vars: (i) => ({ input: { runId: i.runId } }),
      },
    ]
    for (const c of aimed) {
      covered.add(c.field)
      const mine: GqlReply = await gqlHttp(base, tokenB, c.query, c.vars(A))
      const unknown: GqlReply = await gqlHttp(base, tokenB, c.query, c.vars(UNKNOWN))
      expect(mine.status, c.field).toBe(unknown.status)
      expect(normalize(mine.body, AS_PLACEHOLDERS(A)), c.field).toBe(normalize(unknown.body, AS_PLACEHOLDERS(UNKNOWN)))
      if (c.field !== 'costs') expect(mine.body.errors?.[0]?.extensions?.code, c.field).toBe('NOT_FOUND')
    }
    const listings: Array<{ field: string; query: string }> = [
      { field: 'viewer', query: '{ viewer { tenant actor { id kind } } }' },
      { field: 'runs', query: '{ runs(first: 500) { items { runId } nextCursor } }' },
      { field: 'workflows', query: '{ workflows { name hash versions } }' },
      { field: 'costs', query: '{ costs(by: run) { key calls } }' },
      { field: 'audit', query: '{ audit(limit: 1000) { items { seq action subjectId actor { id } details entry } } }' },
      { field: 'auditVerify', query: '{ auditVerify { tenant ok entries headSeq } }' },
      { field: 'principals', query: '{ principals { id name } }' },
      { field: 'tokens', query: '{ tokens { id prefix principalId } }' },
      { field: 'tools', query: '{ tools { name source } }' },
      { field: 'tool', query: '{ tool(name: "shiioo.runs.search") { name inputSchema } }' },
      {
        field: 'callTool',
        query: 'mutation { callTool(name: "shiioo.runs.search", input: {}) { output } }',
      },
    ]
    for (const c of listings) {
      covered.add(c.field)
      const res = await gqlHttp(base, tokenB, c.query)
      expect(res.body.errors, c.field).toBeUndefined()
      for (const secret of secretsOfA({ runId: true, workflow: true, identity: true }))
        expect(JSON.stringify(res.body), `${c.field} names ${secret}`).not.toContain(secret)
    }
    expect((await gqlHttp(base, tokenB, '{ viewer { tenant } }')).body.data.viewer.tenant).toBe(TENANT_B)
    // B's own changes stay in B
    const gate = await exampleWorkflow('approval-gate')
    const text = gate.replace('name: approval-gate', `name: ${A.workflow}`).replace('Publish these', 'Release these')
    covered.add('registerWorkflow')
    const registered = await gqlHttp(
      base,
      tokenB,
      'mutation($t: String!) { registerWorkflow(workflow: { text: $t, format: yaml }) { name hash } }',
      { t: text },
    )
    expect(registered.body.errors).toBeUndefined()
    covered.add('startRun')
    const started = await gqlHttp(
      base,
      tokenB,
      'mutation($t: String!) { startRun(workflow: { text: $t, format: yaml }, input: { version: "b3" }) { runId } }',
      { t: text },
    )
    expect(started.body.errors).toBeUndefined()
    await gqlHttp(base, tokenB, 'mutation($id: ID!) { cancelRun(runId: $id) { status } }', {
      id: started.body.data.startRun.runId,
    })
    covered.add('createPrincipal')
    const bBob = await gqlHttp(
      base,
      tokenB,
      'mutation { createPrincipal(kind: user, name: "alice-too", roles: [viewer]) { id } }',
    )
    expect(bBob.body.errors).toBeUndefined()

    expect(await stateOfA()).toEqual(before)

    // every root field of Query and Mutation is in the matrix
    const schema = await gqlHttp(
      base,
      tokenB,
      '{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }',
    )
    const fields = [
      ...(schema.body.data.__schema.queryType.fields as Array<{ name: string }>),
      ...(schema.body.data.__schema.mutationType.fields as Array<{ name: string }>),
    ].map((f) => f.name)
    for (const field of fields) expect(covered, `${field} is not in the isolation matrix`).toContain(field)
    const subscriptions = (schema.body.data.__schema.subscriptionType.fields as Array<{ name: string }>).map(
      (f) => f.name,
    )
    expect(subscriptions.sort()).toEqual(['agentText', 'approvalsWaiting', 'auditEntries', 'runUpdates', 'stepUpdates'])
  })

  it("delivers none of A's events to B's subscriptions over graphql-ws and SSE while A's run moves on", async () => {
    const client = wsClient(base, tokenB)
    try {
      // aimed at A's run: refused as an unknown run is, with nothing delivered
      for (const [field, query] of [
        ['runUpdates', RUN_UPDATES],
        [
          'stepUpdates',
          'subscription($runId: ID, $after: String) { stepUpdates(runId: $runId, after: $after) { runId stepId } }',
        ],
        ['agentText', 'subscription($runId: ID) { agentText(runId: $runId) { runId delta } }'],
      ] as const) {
        const mine = await collectFor(client, { query, variables: { runId: A.runId, after: 'start' } }, 3_000)
        const unknown = await collectFor(client, { query, variables: { runId: UNKNOWN.runId, after: 'start' } }, 3_000)
        expect(mine.completed, field).toBe(true)
        expect(
          mine.results.map((r) => r.errors?.[0]?.extensions?.code),
          field,
        ).toEqual(['NOT_FOUND'])
        expect(
          mine.results.every((r) => (r.data ?? null) === null),
          field,
        ).toBe(true)
        expect(normalize(mine.results, AS_PLACEHOLDERS(A)), field).toBe(
          normalize(unknown.results, AS_PLACEHOLDERS(UNKNOWN)),
        )
      }
      const sseMine = await sseFor(base, tokenB, RUN_UPDATES, { runId: A.runId, after: 'start' }, 3_000)
      const sseUnknown = await sseFor(base, tokenB, RUN_UPDATES, { runId: UNKNOWN.runId, after: 'start' }, 3_000)
      expect(sseMine.status).toBe(sseUnknown.status)
      expect(sseMine.text).toContain('NOT_FOUND')
      expect(sseMine.text.split(A.runId).join('<run>')).toBe(sseUnknown.text.split(UNKNOWN.runId).join('<run>'))
      for (const secret of ['run.started', 'step.waiting']) expect(sseMine.text).not.toContain(secret)

      // the tenant-wide ones, from the start of the feed, while A's approval is decided and its run completes
      const watching = Promise.all([
        collectFor(client, { query: RUN_UPDATES, variables: { after: 'start' } }, 4_000),
        collectFor(
          client,
          { query: 'subscription { stepUpdates(after: "start") { runId stepId event { type } } }' },
          4_000,
        ),
        collectFor(client, { query: 'subscription { approvalsWaiting(after: "start") { runId stepId } }' }, 4_000),
        collectFor(
          client,
          {
            query: 'subscription { auditEntries(after: "start") { entry { action subjectId actor { id } details } } }',
          },
          4_000,
        ),
        sseFor(base, tokenB, RUN_UPDATES, { after: 'start' }, 4_000),
      ])
      await new Promise((r) => setTimeout(r, 500))
      const decided = await rest(base, 'POST', `/api/runs/${A.runId}/approvals/review`, {
        token: ADMIN_A,
        body: { decision: 'approve', comment: 'mine' },
      })
      expect(decided.status).toBe(200)
      const [runs, steps, waiting, audit, sse] = await watching
      for (const [name, got] of [
        ['runUpdates', runs],
        ['stepUpdates', steps],
        ['approvalsWaiting', waiting],
        ['auditEntries', audit],
      ] as const) {
        expect(got.error, name).toBeNull()
        expect(got.results.length, `${name} delivers B's own`).toBeGreaterThan(0)
        for (const r of got.results) expect(r.errors, name).toBeUndefined()
        for (const secret of secretsOfA({
          runId: name === 'auditEntries',
          workflow: true,
          identity: name === 'auditEntries',
        }))
          expect(JSON.stringify(got.results), `${name} names ${secret}`).not.toContain(secret)
      }
      expect(
        new Set(runs.results.map((r) => (r.data as { runUpdates: { runId: string } }).runUpdates.runId)),
      ).toContain(runB)
      expect(sse.text).toContain(runB)
      for (const secret of secretsOfA({ workflow: true })) expect(sse.text, `SSE names ${secret}`).not.toContain(secret)
      // A's run did move on meanwhile
      const ended = await within(5_000, async () => {
        const run = await rest(base, 'GET', `/api/runs/${A.runId}`, { token: ADMIN_A })
        return run.body.status === 'completed'
      })
      expect(ended).not.toBeNull()
    } finally {
      await client.dispose()
    }
  })
})
