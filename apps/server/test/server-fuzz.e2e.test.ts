import { request as httpRequest } from 'node:http'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServeHandle } from './helpers.js'
import { assertBuilt, startServe, tempDirs } from './helpers.js'
import type { HostileRequest, OpenApiDoc, Operation } from './hostile-requests.js'
import { hostileRequests, operationsOf } from './hostile-requests.js'
import type { AuditEntry, Json } from './server-clients.js'
import { adminToken, cliJson, exampleWorkflow, rest } from './server-clients.js'

/**
 * Malformed and hostile requests, drawn from the real process's own OpenAPI document, sent to the
 * real `shiioo serve` over a few keep-alive connections at once, as an admin, a viewer, another
 * tenant's admin and with refused credentials (none, garbage, revoked, expired). None may be a
 * 5xx or hang; every refusal has the one error shape; the tenant's runs, workflows, approvals,
 * principals and tokens are as they were; the only audit entries added are refusals and errors,
 * and each refusal by the gate (the viewer's FORBIDDEN) is one of them.
 */

const BATCHES = Number(process.env.FUZZ_BATCHES ?? 500)
/** Requests sent at once: a batch is one fast-check case. */
const CONCURRENCY = 4
const TIME_BOUND_MS = 5_000
const ADMIN = adminToken('fuzz')
const TENANT_B = 'tenant-b'

const dirs = tempDirs()
let dataDir: string
let server: ServeHandle
let base: string
let operations: Operation[]
const tokens = { viewer: '', foreign: '', revoked: '', expired: '' }
let viewerId = ''
const ids: Record<string, string> = {}

beforeAll(async () => {
  assertBuilt()
  dataDir = await dirs.make('shiioo-server-fuzz-')
  // the credentials, made with the CLI on the data dir before the server starts
  viewerId = (await cliJson(dataDir, ['principal', 'create', 'watcher', '--role', 'viewer'])).id as string
  tokens.viewer = (await cliJson(dataDir, ['token', 'create', 'watcher'])).token as string
  const revoked = await cliJson(dataDir, ['token', 'create', 'watcher', '--name', 'old'])
  await cliJson(dataDir, ['token', 'revoke', revoked.view.id as string])
  tokens.revoked = revoked.token as string
  await cliJson(dataDir, ['principal', 'create', 'intruder', '--role', 'admin', '--tenant', TENANT_B])
  tokens.foreign = (await cliJson(dataDir, ['token', 'create', 'intruder', '--tenant', TENANT_B])).token as string
  // expires soon after the server starts (a command takes a few seconds on this machine)
  const expiresAt = new Date(Date.now() + 15_000)
  tokens.expired = (
    await cliJson(dataDir, ['token', 'create', 'watcher', '--name', 'brief', '--expires-at', expiresAt.toISOString()])
  ).token as string

  server = await startServe(['--port', '0'], {
    cwd: dataDir,
    env: { SHIIOO_DATA_DIR: dataDir, SHIIOO_ADMIN_TOKEN: ADMIN, SHIIOO_LOG_LEVEL: 'error' },
  })
  base = server.url
  const doc = (await rest(base, 'GET', '/api/openapi.json', { token: null })).body as OpenApiDoc
  operations = operationsOf(doc)

  // a run of each tenant waiting for its approval: real ids for the requests whose credentials or body are hostile
  const approvalGate = await exampleWorkflow('approval-gate')
  const start = (token: string) =>
    rest(base, 'POST', '/api/runs', { token, body: { workflow: { text: approvalGate }, input: { version: '1' } } })
  const started = await start(ADMIN)
  expect(started.status).toBe(201)
  expect((await start(tokens.foreign)).status).toBe(201)
  ids.runId = started.body.runId as string
  ids.stepId = 'review'
  ids.name = 'approval-gate'
  ids.blob = 'ab'.repeat(32)
  await until(async () => (await rest(base, 'GET', '/api/approvals', { token: ADMIN })).body.items.length === 1)
  // it worked until it expired (checked when the machine was quick enough to ask in time)
  if (Date.now() < expiresAt.getTime() - 2_000)
    expect((await rest(base, 'GET', '/api/runs', { token: tokens.expired })).status).toBe(200)
  await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() + 100 - Date.now())))
  expect((await rest(base, 'GET', '/api/runs', { token: tokens.expired })).status).toBe(401)
})

afterAll(async () => {
  await server?.stop()
  await dirs.cleanup()
})

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** What a tenant has, as its admin reads it; equal before and after means nothing changed. */
async function stateOf(token: string, tenant: string): Promise<Json> {
  const read = async (path: string): Promise<unknown> => {
    const res = await rest(base, 'GET', path, { token })
    expect(res.status, path).toBe(200)
    return res.body as unknown
  }
  const runs = (
    (await read('/api/runs?limit=500')) as { items: Array<{ runId: string; lastSeq: number; status: string }> }
  ).items
  const workflows = await read('/api/workflows')
  const runViews = await Promise.all(runs.map((r) => read(`/api/runs/${r.runId}`)))
  return {
    runs: runs.map((r) => `${r.runId}@${r.lastSeq}:${r.status}`).sort(),
    runViews,
    workflows,
    versions: await read('/api/workflows/approval-gate/versions'),
    approvals: await read('/api/approvals'),
    principals: await cliJson(dataDir, ['principal', 'list', '--tenant', tenant]),
    tokens: await cliJson(dataDir, ['token', 'list', '--tenant', tenant]),
  }
}

/** The tenant's audit entries after `seq`, oldest first. */
async function auditAfter(token: string, seq: number): Promise<AuditEntry[]> {
  const out: AuditEntry[] = []
  let before: number | null = null
  for (;;) {
    const res = await rest(base, 'GET', `/api/audit?limit=1000${before === null ? '' : `&before=${before}`}`, {
      token,
    })
    expect(res.status).toBe(200)
    const items = res.body.items as AuditEntry[]
    out.push(...items.filter((e) => e.seq > seq))
    before = res.body.nextBefore as number | null
    if (before === null || items.some((e) => e.seq <= seq)) break
  }
  return out.reverse()
}

async function headSeq(token: string): Promise<number> {
  return (
    ((await rest(base, 'GET', '/api/audit/verify', { token })).body as { head: { seq: number } | null }).head?.seq ?? 0
  )
}

interface Outcome {
  request: HostileRequest
  status: number
  ms: number
  body: string
  contentType: string
}

/** The server's default `[http] max_body_bytes`. */
const MAX_BODY_BYTES = 1024 * 1024

async function send(request: HostileRequest): Promise<Outcome> {
  const started = performance.now()
  if (request.body instanceof Uint8Array && request.body.length > MAX_BODY_BYTES) return sendOversized(request, started)
  const res = await fetch(`${base}${request.path}`, {
    method: request.method,
    headers: request.headers,
    ...(request.body === undefined ? {} : { body: request.body }),
    signal: AbortSignal.timeout(TIME_BOUND_MS),
  })
  const body = await res.text()
  return {
    request,
    status: res.status,
    ms: performance.now() - started,
    body,
    contentType: res.headers.get('content-type') ?? '',
  }
}

/**
 * A body over the limit, on a connection of its own: the server answers 413 as soon as it has the
 * headers, and stops reading the body soon after (it drains for half a second, then closes), so
 * the answer is read as it comes, while the upload may still be going (fetch reads an answer
 * only after sending the whole body, and would see the connection closed instead).
 */
function sendOversized(request: HostileRequest, started: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${request.path}`, {
      method: request.method,
      headers: request.headers,
      agent: false,
      timeout: TIME_BOUND_MS,
    })
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () =>
        resolve({
          request,
          status: res.statusCode ?? 0,
          ms: performance.now() - started,
          body,
          contentType: res.headers['content-type'] ?? '',
        }),
      )
      res.on('error', reject)
    })
    // the server closing the connection cuts the upload short: after its answer (read above), or
    // before the client could read one (status 0, checked by the caller: only for these bodies)
    let answered = false
    req.on('response', () => (answered = true))
    req.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'EPIPE' && code !== 'ECONNRESET') return reject(err)
      if (!answered) resolve({ request, status: 0, ms: performance.now() - started, body: '', contentType: '' })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer in ${TIME_BOUND_MS} ms`)))
    req.end(request.body)
  })
}

describe('hostile requests to the real server process', () => {
  it(`answers ${BATCHES * CONCURRENCY} malformed or hostile requests across every route: no 5xx, no hang, the error shape, no change, refusals audited`, async () => {
    const began = Date.now()
    const stateA = await stateOf(ADMIN, 'default')
    const stateB = await stateOf(tokens.foreign, TENANT_B)
    const headA = await headSeq(ADMIN)
    const headB = await headSeq(tokens.foreign)
    const credentials = {
      admin: ADMIN,
      readOnly: tokens.viewer,
      foreign: tokens.foreign,
      refused: {
        'no token': null,
        'a garbage token': 'garbage',
        'an unknown token of the right shape': `shiioo_${'A'.repeat(43)}`,
        'a revoked token': tokens.revoked,
        'an expired token': tokens.expired,
      },
    }
    const statuses = new Map<number, number>()
    const routes = new Set<string>()
    let forbidden = 0
    /** Bodies over the limit whose connection was closed before their 413 could be read. */
    let closedOversized = 0
    let sent = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileRequests(operations, ids, credentials), {
          minLength: CONCURRENCY,
          maxLength: CONCURRENCY,
        }),
        async (batch) => {
          const outcomes = await Promise.all(batch.map(send))
          for (const o of outcomes) {
            sent++
            statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1)
            routes.add(o.request.label.split(' with ')[0]!.split(' on ')[0]!)
            const what = `${o.request.label}: ${o.status} ${o.body.slice(0, 300)}`
            expect(o.status, what).toBeLessThan(500)
            if (o.status === 0) {
              closedOversized++
              expect(o.request.body instanceof Uint8Array && o.request.body.length > MAX_BODY_BYTES, what).toBe(true)
            }
            expect(o.ms, what).toBeLessThan(TIME_BOUND_MS)
            // `%2e%2e` segments are `..` to a URL parser: such a path leaves /api (the home page, a plain 404)
            const where = new URL(o.request.path, base).pathname
            const api = where.startsWith('/api/') || where === '/metrics'
            if (!api) expect(o.status, what).toBeOneOf([200, 404])
            if (o.status >= 300 && api) {
              expect(o.contentType, what).toMatch(/application\/json/)
              const error = (JSON.parse(o.body) as { error?: { message?: string } }).error
              expect(error, what).toMatchObject({
                code: expect.stringMatching(/^[A-Z_]+$/),
                message: expect.any(String),
              })
              expect(error?.message?.length ?? 0, what).toBeGreaterThan(0)
            }
            if (o.status === 403) {
              forbidden++
              expect(o.request.headers.authorization, what).toBe(`Bearer ${tokens.viewer}`)
            }
          }
        },
      ),
      { numRuns: BATCHES, seed: Number(process.env.FUZZ_SEED ?? 14), endOnFailure: true },
    )
    expect(sent).toBe(BATCHES * CONCURRENCY)
    expect(closedOversized, 'most bodies over the limit are answered 413').toBeLessThan(statuses.get(413) ?? 0)
    // the cases got past the token check and the schemas, not only to the first refusal
    for (const status of [200, 400, 401, 403, 404, 413])
      expect(statuses.get(status) ?? 0, String(status)).toBeGreaterThan(0)
    // every documented operation was drawn
    for (const op of operations) expect(routes, `${op.method} ${op.path}`).toContain(`${op.method} ${op.path}`)

    // nothing changed in either tenant
    expect(await stateOf(ADMIN, 'default')).toEqual(stateA)
    expect(await stateOf(tokens.foreign, TENANT_B)).toEqual(stateB)
    // the entries added are refusals and errors only; each FORBIDDEN answer is a `denied` entry of the viewer's
    const addedA = await auditAfter(ADMIN, headA)
    const addedB = await auditAfter(tokens.foreign, headB)
    for (const e of [...addedA, ...addedB]) expect(['denied', 'error'], JSON.stringify(e)).toContain(e.outcome.status)
    const deniedA = addedA.filter((e) => e.outcome.status === 'denied' && e.action !== 'token.use')
    expect(deniedA.length).toBe(forbidden)
    for (const e of deniedA) expect(e).toMatchObject({ actor: { id: viewerId }, outcome: { code: 'FORBIDDEN' } })
    // the revoked and the expired token's refusals: audited as token.use, at most once a minute per token
    const tokenUse = addedA.filter((e) => e.action === 'token.use')
    expect(tokenUse.length).toBeGreaterThanOrEqual(1)
    expect(tokenUse.length).toBeLessThanOrEqual(2 * (1 + Math.ceil((Date.now() - began) / 60_000)))
    for (const e of tokenUse)
      expect(e).toMatchObject({ subject: { kind: 'token' }, outcome: { code: 'UNAUTHENTICATED' } })
    expect(addedB.filter((e) => e.outcome.status === 'denied')).toEqual([])
    // the chains are whole, and the server still answers
    for (const token of [ADMIN, tokens.foreign])
      expect((await rest(base, 'GET', '/api/audit/verify', { token })).body).toMatchObject({ ok: true, firstBad: null })
    expect((await rest(base, 'GET', '/api/health/ready', { token: null })).status).toBe(200)
  })
})
