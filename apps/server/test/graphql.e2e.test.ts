import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TenantId } from '@shiioo/core'
import { localCaller, systemCaller } from '@shiioo/orchestrator'
import { Registry } from 'prom-client'
import type { Client, FormattedExecutionResult } from 'graphql-ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createApp } from '../src/app.js'
import type { Composed } from '../src/compose.js'
import { openOrchestrator } from '../src/compose.js'
import { loadConfig } from '../src/config/index.js'
import { createGraphQLServer } from '../src/graphql/graphql-server.js'
import { createServerMetrics } from '../src/http/metrics.js'
import type { RunningServer } from '../src/http/listen.js'
import { listen } from '../src/http/listen.js'
import { REPO_ROOT, tempDirs } from './helpers.js'
import { gqlHttp, wsClient as sharedWsClient } from './server-clients.js'

/** Real API tokens, made in beforeAll: tenant A's admin and viewer, tenant B's admin, a revoked one. */
const TOKENS = { a: '', viewer: '', b: '', revoked: '' }
let adminId = ''

const dirs = tempDirs()
let composed: Composed
let server: RunningServer
let wsUrl: string
let approvalGate: string

beforeAll(async () => {
  const dir = await dirs.make('shiioo-graphql-')
  const config = loadConfig({ cwd: dir, env: { SHIIOO_DATA_DIR: dir, SHIIOO_LOG_LEVEL: 'error' } })
  composed = await openOrchestrator(config, { create: true })
  const { identity } = composed.orchestrator
  const admin = await identity.bootstrap(systemCaller('test'))
  TOKENS.a = admin.token!
  adminId = admin.principal.id
  const local = localCaller('test')
  await identity.createPrincipal(local, { kind: 'user', name: 'watcher', roles: ['viewer'] })
  TOKENS.viewer = (await identity.createToken(local, { principal: 'watcher', name: 'test' })).token
  const revoked = await identity.createToken(local, { principal: 'watcher', name: 'old' })
  await identity.revokeToken(local, revoked.view.id)
  TOKENS.revoked = revoked.token
  const localB = localCaller('test', 'tenant-b' as TenantId)
  await identity.createPrincipal(localB, { kind: 'user', name: 'intruder', roles: ['admin'] })
  TOKENS.b = (await identity.createToken(localB, { principal: 'intruder', name: 'test' })).token
  const authenticate = (token: string) => composed.orchestrator.identity.authenticate(token)
  const graphql = createGraphQLServer({
    services: composed.orchestrator,
    authenticate,
    logger: composed.logger,
    limits: { depth: 6, cost: 5000 },
  })
  const app = createApp({
    version: 'test',
    logger: composed.logger,
    startedAt: Date.now(),
    orchestrator: composed.orchestrator,
    authenticate,
    metrics: createServerMetrics(new Registry()),
    graphql,
  })
  server = await listen(app, '127.0.0.1', 0, [(s) => graphql.attach(s)])
  wsUrl = `ws://127.0.0.1:${server.port}/api/graphql/ws`
  approvalGate = await readFile(join(REPO_ROOT, 'examples', 'workflows', 'approval-gate.yaml'), 'utf8')
})

afterAll(async () => {
  await server?.close()
  await composed?.close()
  await dirs.cleanup()
})

/** A response's data, as a test reads it: what the query selected, checked by the expectations. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response data is checked by the expectations
type Data = any

const gql = (query: string, variables: Record<string, unknown> = {}, token: string | null = TOKENS.a) =>
  gqlHttp(server.url, token, query, variables)

const wsClient = (token = TOKENS.a): Client => sharedWsClient(server.url, token)

const START = `mutation Start($text: String!, $key: String) {
  startRun(workflow: { text: $text, format: yaml }, input: { version: "3.1" }, idempotencyKey: $key) { runId duplicate }
}`
const RUN_UPDATES = `subscription Updates($runId: ID, $after: String) {
  runUpdates(runId: $runId, after: $after) { position runId event { seq type data } run { status } }
}`
const DECIDE = `mutation Decide($runId: ID!) {
  decideApproval(runId: $runId, stepId: "review", decision: approve, comment: "ship it") { status decisions { comment actor { id } } }
}`

interface Update {
  position: string
  runId: string
  event: { seq: number; type: string; data: Data }
  run: { status: string }
}

/** Reads a subscription until `until` accepts a payload (included), then stops it. */
async function readUntil<T>(
  results: AsyncIterableIterator<FormattedExecutionResult<Data, unknown>>,
  pick: (data: Data) => T,
  until: (item: T) => boolean,
  onEach?: (item: T) => void | Promise<void>,
): Promise<T[]> {
  const seen: T[] = []
  for await (const result of results) {
    expect(result.errors).toBeUndefined()
    const item = pick(result.data)
    seen.push(item)
    await onEach?.(item)
    if (until(item)) break
  }
  return seen
}

async function startGatedRun(key?: string): Promise<string> {
  const started = await gql(START, { text: approvalGate, ...(key ? { key } : {}) })
  expect(started.body.errors).toBeUndefined()
  return started.body.data.startRun.runId as string
}

describe('GraphQL over HTTP and WebSocket', () => {
  it('starts a run, follows it live over graphql-ws, decides its approval and sees it complete; resumes with no gap', async () => {
    const client = wsClient()
    try {
      const runId = await startGatedRun('e2e-1')
      const again = await gql(START, { text: approvalGate, key: 'e2e-1' })
      expect(again.body.data.startRun).toEqual({ runId, duplicate: true })

      let decided = false
      const updates = await readUntil(
        client.iterate({ query: RUN_UPDATES, variables: { runId, after: 'start' } }),
        (d) => d.runUpdates as Update,
        (u) => u.event.type === 'run.completed',
        async (u) => {
          // decided once the approval waits, while the subscription stays open: the rest arrives live
          if (u.event.type === 'step.waiting' && u.event.data.for === 'approval' && !decided) {
            decided = true
            const res = await gql(DECIDE, { runId })
            expect(res.body.errors).toBeUndefined()
            expect(res.body.data.decideApproval.decisions).toEqual([{ comment: 'ship it', actor: { id: adminId } }])
          }
        },
      )
      expect(decided).toBe(true)
      const types = updates.map((u) => u.event.type)
      expect(types[0]).toBe('run.started')
      expect(types.indexOf('approval.decided')).toBeGreaterThan(types.indexOf('step.waiting'))
      expect(updates.map((u) => u.event.seq)).toEqual(updates.map((_, i) => i + 1))
      expect(new Set(updates.map((u) => u.runId))).toEqual(new Set([runId]))
      expect(updates.at(-1)!.run.status).toBe('completed')

      // a new connection resumes after the 3rd event: exactly the 4th onwards, no gap, no duplicate
      const resumedClient = wsClient()
      try {
        const resumed = await readUntil(
          resumedClient.iterate({ query: RUN_UPDATES, variables: { runId, after: updates[2]!.position } }),
          (d) => d.runUpdates as Update,
          (u) => u.event.type === 'run.completed',
        )
        expect(resumed.map((u) => [u.event.seq, u.position])).toEqual(
          updates.slice(3).map((u) => [u.event.seq, u.position]),
        )
      } finally {
        await resumedClient.dispose()
      }

      // SSE receives the same events
      const sse = await sseUntil(
        RUN_UPDATES,
        { runId, after: 'start' },
        (d) => d.runUpdates.event.type === 'run.completed',
      )
      expect(sse.map((d) => (d.runUpdates as Update).position)).toEqual(updates.map((u) => u.position))

      // the queries tell the same story
      const read = await gql(
        `query($id: ID!) { run(id: $id) { status steps { stepId status } waits { stepId } events { seq type } }
           runs(status: completed) { items { runId run { status } } nextCursor } }`,
        { id: runId },
      )
      expect(read.body.errors).toBeUndefined()
      expect(read.body.data.run.status).toBe('completed')
      expect((read.body.data.run.steps as Array<{ status: string }>).map((s) => s.status)).toEqual([
        'completed',
        'completed',
        'completed',
      ])
      expect(read.body.data.run.waits).toEqual([])
      expect(read.body.data.run.events).toHaveLength(updates.length)
      expect(read.body.data.runs.items).toContainEqual({ runId, run: { status: 'completed' } })
    } finally {
      await client.dispose()
    }
  })

  it('delivers approvals waiting, step updates and audit entries', async () => {
    const client = wsClient()
    try {
      const runId = await startGatedRun()
      const waiting = await readUntil(
        client.iterate({
          query: `subscription { approvalsWaiting(after: "start") { position runId stepId prompt run { status } } }`,
        }),
        (d) => d.approvalsWaiting as { runId: string; prompt: string },
        (a) => a.runId === runId,
      )
      expect(waiting.at(-1)).toMatchObject({ runId, stepId: 'review', run: { status: 'running' } })
      expect(waiting.at(-1)!.prompt).toContain('3.1')
      const steps = await readUntil(
        client.iterate({
          query: `subscription($id: ID!) { stepUpdates(runId: $id, stepId: "review", after: "start") { stepId event { type } step { status } } }`,
          variables: { id: runId },
        }),
        (d) => d.stepUpdates as { stepId: string; event: { type: string }; step: { status: string } },
        (u) => u.event.type === 'step.waiting',
      )
      expect(steps.map((u) => [u.stepId, u.event.type])).toEqual([
        ['review', 'step.started'],
        ['review', 'step.waiting'],
      ])
      expect(steps.at(-1)!.step.status).toBe('waiting')
      const audit = await readUntil(
        client.iterate({
          query: `subscription { auditEntries(after: "start") { position entry { action outcome details actor { id } } } }`,
        }),
        (d) => d.auditEntries as { position: string; entry: { details: { runId?: string } } },
        (e) => e.entry.details.runId === runId,
      )
      expect(audit.at(-1)!.entry).toMatchObject({ action: 'run.start', outcome: 'ok', actor: { id: adminId } })
      expect(audit.map((e) => e.position)).toEqual([...audit.map((e) => e.position)].sort())
      await gql(`mutation($id: ID!) { cancelRun(runId: $id, reason: "done") { status } }`, { id: runId })
    } finally {
      await client.dispose()
    }
  })

  it('refuses a missing, invalid or revoked token over HTTP (401) and WebSocket (4401), a forbidden operation with FORBIDDEN', async () => {
    for (const token of [null, 'nope', TOKENS.revoked]) {
      const res = await gql('{ viewer { tenant } }', {}, token)
      expect(res.status).toBe(401)
      expect(res.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
      expect(res.body.data ?? null).toBeNull()
    }
    expect(await wsCloseCode(undefined)).toBe(4401)
    expect(await wsCloseCode({ authorization: 'Bearer nope' })).toBe(4401)
    expect(await wsCloseCode({ authorization: `Bearer ${TOKENS.revoked}` })).toBe(4401)
    // the upgrade request's Authorization header does as well as connection params
    const acked = await new Promise<string>((resolve, reject) => {
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { headers: { authorization: `Bearer ${TOKENS.a}` } })
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })))
      socket.on('message', (m: Buffer) => {
        resolve((JSON.parse(m.toString()) as { type: string }).type)
        socket.close()
      })
      socket.on('error', reject)
    })
    expect(acked).toBe('connection_ack')
    // a viewer reads runs but may not change one: FORBIDDEN, naming the roles that may
    const runId = await startGatedRun()
    const forbidden = await gql(`mutation($id: ID!) { cancelRun(runId: $id) { status } }`, { id: runId }, TOKENS.viewer)
    expect(forbidden.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
    expect(forbidden.body.errors?.[0]?.message).toMatch(/run\.cancel needs one of the roles admin, operator/)
    const read = await gql(`query($id: ID!) { run(id: $id) { status } }`, { id: runId }, TOKENS.viewer)
    expect(read.body.data.run.status).toBe('running')
    await gql(`mutation($id: ID!) { cancelRun(runId: $id, reason: "done") { status } }`, { id: runId })
    const ok = await gql('{ viewer { tenant actor { id } } }')
    expect(ok.body.data.viewer).toEqual({ tenant: 'default', actor: { id: adminId } })
  })

  it("gives a caller of tenant B NOT_FOUND and no events for tenant A's run, over every transport", async () => {
    const runId = await startGatedRun()
    const query = await gql(`query($id: ID!) { run(id: $id) { status } }`, { id: runId }, TOKENS.b)
    expect(query.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
    const mutation = await gql(DECIDE, { runId }, TOKENS.b)
    expect(mutation.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')

    const client = wsClient(TOKENS.b)
    try {
      const results: Array<FormattedExecutionResult<Record<string, unknown>, unknown>> = []
      for await (const r of client.iterate({ query: RUN_UPDATES, variables: { runId, after: 'start' } }))
        results.push(r)
      expect(results).toHaveLength(1)
      expect(results[0]!.data ?? null).toBeNull()
      expect(results[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
      // all of tenant B's runs, from the start of the feed: its own run only, none of A's
      const [theirs] = await Promise.all([
        readUntil(
          client.iterate({ query: RUN_UPDATES, variables: { after: 'start' } }),
          (d) => d.runUpdates as Update,
          (u) => u.event.type === 'step.waiting',
        ),
        gql(START, { text: approvalGate }, TOKENS.b),
      ])
      expect(new Set(theirs.map((u) => u.runId)).size).toBe(1)
      expect(theirs.map((u) => u.runId)).not.toContain(runId)
    } finally {
      await client.dispose()
    }
    const sse = await sseRaw(RUN_UPDATES, { runId, after: 'start' }, TOKENS.b)
    expect(sse).toContain('NOT_FOUND')
    expect(sse).not.toContain('run.started')
    await gql(`mutation($id: ID!) { cancelRun(runId: $id) { status } }`, { id: runId })
  })

  it('refuses a too-deep or too-costly operation with a clear error, and a bad position with INVALID_INPUT', async () => {
    const deep = await gql('{ runs { items { run { steps { items { wait { for } } } } } } }')
    expect(deep.body.data ?? null).toBeNull()
    expect(deep.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/depth limit of 6 exceeded/),
      extensions: { code: 'INVALID_INPUT' },
    })
    const costly = await gql(
      `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: viewer { actor { id kind } }`).join(' ')} }`,
    )
    expect(costly.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/^operation refused: .*cost/i),
      extensions: { code: 'INVALID_INPUT', limit: 'cost' },
    })
    const client = wsClient()
    try {
      const results: Array<FormattedExecutionResult<Record<string, unknown>, unknown>> = []
      for await (const r of client.iterate({ query: RUN_UPDATES, variables: { after: 'yesterday' } })) results.push(r)
      expect(results.map((r) => r.errors?.[0]?.extensions?.code)).toEqual(['INVALID_INPUT'])
    } finally {
      await client.dispose()
    }
  })

  it('serves GraphiQL from bundled assets, with no external URL to load', async () => {
    const res = await fetch(`${server.url}/api/graphql`, { headers: { accept: 'text/html' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    const html = await res.text()
    expect(html).toContain('GraphiQL')
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?\/\//i)
    expect(html).not.toMatch(/unpkg\.com|jsdelivr\.net|cdnjs|esm\.sh|googleapis/i)
  })
})

/** What a WebSocket connection with these connection params is closed with. */
function wsCloseCode(connectionParams: Record<string, unknown> | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws')
    socket.on('open', () =>
      socket.send(
        JSON.stringify({ type: 'connection_init', ...(connectionParams ? { payload: connectionParams } : {}) }),
      ),
    )
    socket.on('message', (m: Buffer) => reject(new Error(`unexpected message ${m.toString()}`)))
    socket.on('close', (code) => resolve(code))
    socket.on('error', reject)
  })
}

/** A subscription over SSE: the raw stream until it completes. */
async function sseRaw(query: string, variables: Record<string, unknown>, token = TOKENS.a): Promise<string> {
  const res = await fetch(`${server.url}/api/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  })
  return res.text()
}

/** A subscription over SSE, read until `until` accepts a payload's data. */
async function sseUntil(
  query: string,
  variables: Record<string, unknown>,
  until: (data: Data) => boolean,
): Promise<Data[]> {
  const stop = new AbortController()
  const res = await fetch(`${server.url}/api/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${TOKENS.a}` },
    body: JSON.stringify({ query, variables }),
    signal: stop.signal,
  })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
  const seen: Data[] = []
  const decoder = new TextDecoder()
  let text = ''
  try {
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk, { stream: true })
      let end: number
      while ((end = text.indexOf('\n\n')) >= 0) {
        const message = text.slice(0, end)
        text = text.slice(end + 2)
        const data = message
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('\n')
        if (!message.split('\n').some((l) => l === 'event: next') || data === '') continue
        const payload = JSON.parse(data) as { data?: Data; errors?: unknown }
        expect(payload.errors).toBeUndefined()
        seen.push(payload.data)
        if (until(payload.data)) return seen
      }
    }
  } finally {
    stop.abort()
  }
  throw new Error('the SSE stream ended before the expected payload')
}
