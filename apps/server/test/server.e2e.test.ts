import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServeHandle } from './helpers.js'
import { assertBuilt, runCli, startServe, tempDirs } from './helpers.js'
import type { AuditEntry, EventJson, Json } from './server-clients.js'
import { adminToken, cliJson, exampleWorkflow, gqlHttp, readUntil, rest, within, wsClient } from './server-clients.js'

/**
 * The real `shiioo serve` process on a temp data dir, driven as its users drive it: a run with an
 * approval step started over REST (retried safely with an idempotency key), followed over a
 * graphql-ws client until it completes while its approval is decided over a GraphQL mutation,
 * its events read over REST, its audit entries found and the chain verified over REST and, once
 * the server has stopped, by `shiioo audit verify` on the data dir. A token revoked by the CLI
 * on the same data dir while the server runs is refused within a second.
 */

const ADMIN = adminToken('server')
const dirs = tempDirs()
let dataDir: string
let server: ServeHandle
let base: string
let approvalGate: string

beforeAll(async () => {
  assertBuilt()
  dataDir = await dirs.make('shiioo-server-e2e-')
  approvalGate = await exampleWorkflow('approval-gate')
  server = await startServe(['--port', '0'], {
    cwd: dataDir,
    // the takeover scan runs often, so that it meets the server's own runs while they wait
    env: {
      SHIIOO_DATA_DIR: dataDir,
      SHIIOO_ADMIN_TOKEN: ADMIN,
      SHIIOO_LOG_LEVEL: 'error',
      SHIIOO_ENGINE_SCAN_MS: '100',
    },
  })
  base = server.url
})

afterAll(async () => {
  await server?.stop()
  await dirs.cleanup()
})

const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>, token = ADMIN) =>
  rest(base, method, path, { token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) })

const RUN_UPDATES = `subscription($runId: ID, $after: String) {
  runUpdates(runId: $runId, after: $after) { position runId event { seq type data } run { status } }
}`
const DECIDE = `mutation($runId: ID!) {
  decideApproval(runId: $runId, stepId: "review", decision: approve, comment: "ship it") {
    status decisions { decision comment actor { id } }
  }
}`

interface Update {
  position: string
  runId: string
  event: { seq: number; type: string; data: Json }
  run: { status: string }
}

describe('the real server process', () => {
  let runId: string
  let adminId: string
  let headAfterRun: { seq: number; hash: string }

  it('starts a run over REST, follows it over graphql-ws, decides its approval over GraphQL, reads its events and audit', async () => {
    const viewer = await gqlHttp(base, ADMIN, '{ viewer { tenant actor { id kind } } }')
    expect(viewer.body.errors).toBeUndefined()
    expect(viewer.body.data.viewer).toMatchObject({ tenant: 'default', actor: { kind: 'user' } })
    adminId = viewer.body.data.viewer.actor.id as string

    // started over REST with an idempotency key; the retry answers the same run
    const request = { workflow: { text: approvalGate }, input: { version: '2.0' } }
    const key = { 'idempotency-key': 'release-2.0' }
    const started = await api('POST', '/api/runs', request, key)
    expect(started.status).toBe(201)
    expect(started.body).toMatchObject({ workflow: { name: 'approval-gate' }, duplicate: false })
    runId = started.body.runId as string
    const retried = await api('POST', '/api/runs', request, key)
    expect(retried.status).toBe(200)
    expect(retried.body).toMatchObject({ runId, duplicate: true })
    const conflicting = await api('POST', '/api/runs', { ...request, input: { version: '2.1' } }, key)
    expect(conflicting.status).toBe(409)
    expect(conflicting.body.error.code).toBe('CONFLICT')

    // followed over graphql-ws from its first event; the approval is decided, over a GraphQL
    // mutation on the same connection, once the step waits, while the subscription stays open
    const client = wsClient(base, ADMIN)
    let decided: Json = null
    let updates: Update[]
    try {
      updates = await readUntil(
        client.iterate({ query: RUN_UPDATES, variables: { runId, after: 'start' } }),
        (r) => {
          expect(r.errors).toBeUndefined()
          return r.data.runUpdates as Update
        },
        (u) => u.event.type === 'run.completed' || u.event.type === 'run.failed',
        async (u) => {
          if (u.event.type === 'step.waiting' && u.event.data.for === 'approval' && decided === null) {
            const [result] = await readUntil(
              client.iterate({ query: DECIDE, variables: { runId } }),
              (r) => r,
              () => true,
            )
            decided = result
          }
        },
      )
    } finally {
      await client.dispose()
    }
    expect(decided.errors).toBeUndefined()
    expect(decided.data.decideApproval.decisions).toEqual([
      { decision: 'approve', comment: 'ship it', actor: { id: adminId } },
    ])
    const types = updates.map((u) => u.event.type)
    expect(types[0]).toBe('run.started')
    expect(types.at(-1)).toBe('run.completed')
    expect(types.indexOf('approval.decided')).toBeGreaterThan(types.indexOf('step.waiting'))
    expect(updates.map((u) => u.event.seq)).toEqual(updates.map((_, i) => i + 1))
    expect(new Set(updates.map((u) => u.runId))).toEqual(new Set([runId]))
    expect(updates.at(-1)!.run.status).toBe('completed')

    // its events over REST: the same events, in the same order
    const events = await api('GET', `/api/runs/${runId}/events`)
    expect(events.status).toBe(200)
    expect((events.body.items as EventJson[]).map((e) => [e.seq, e.type])).toEqual(
      updates.map((u) => [u.event.seq, u.event.type]),
    )
    expect(events.body.items[0]).toMatchObject({ stream: runId, tenant: 'default', actor: { id: adminId } })
    const later = await api('GET', `/api/runs/${runId}/events?after=${updates.length - 1}`)
    expect((later.body.items as EventJson[]).map((e) => e.type)).toEqual(['run.completed'])
    const run = await api('GET', `/api/runs/${runId}`)
    expect(run.body).toMatchObject({ runId, status: 'completed' })
    expect((run.body.steps as Array<{ stepId: string; status: string }>).map((s) => [s.stepId, s.status])).toEqual([
      ['draft', 'completed'],
      ['review', 'completed'],
      ['publish', 'completed'],
    ])

    // its audit entries: the start and its retry, the refused retry, the decision
    const starts = await api('GET', '/api/audit?action=run.start')
    expect(starts.status).toBe(200)
    const mine = (starts.body.items as AuditEntry[]).filter((e) => e.details.runId === runId)
    expect(mine.map((e) => [e.outcome.status, e.details.duplicate, e.details.idempotencyKey])).toEqual([
      ['ok', true, 'release-2.0'],
      ['ok', false, 'release-2.0'],
    ])
    for (const e of mine) expect(e.actor).toEqual({ kind: 'user', id: adminId })
    const refused = (starts.body.items as AuditEntry[]).filter((e) => e.outcome.status !== 'ok')
    expect(refused).toHaveLength(1)
    expect(refused[0]).toMatchObject({ outcome: { status: 'error', code: 'CONFLICT' }, actor: { id: adminId } })
    const decisions = await api('GET', '/api/audit?action=run.decide')
    expect(decisions.body.items).toHaveLength(1)
    expect(decisions.body.items[0]).toMatchObject({
      tenant: 'default',
      actor: { kind: 'user', id: adminId },
      subject: { kind: 'run', id: runId },
      outcome: { status: 'ok' },
      details: { stepId: 'review', decision: 'approve', comment: 'ship it' },
    })
    expect(decisions.body.items[0].seq).toBeGreaterThan(mine[0]!.seq)

    // the chain checks out, and links what the listing shows
    const verify = await api('GET', '/api/audit/verify')
    expect(verify.status).toBe(200)
    expect(verify.body).toMatchObject({ tenant: 'default', ok: true, firstBad: null })
    const all = await api('GET', '/api/audit?limit=1000')
    const entries = (all.body.items as AuditEntry[]).slice().reverse()
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1))
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash)
    expect(verify.body.entries).toBe(entries.length)
    expect(verify.body.head).toEqual({ seq: entries.at(-1)!.seq, hash: entries.at(-1)!.hash })
    headAfterRun = verify.body.head as { seq: number; hash: string }
  })

  it('keeps working while the CLI revokes a token on the same data dir: the revoked token gets 401 within a second', async () => {
    // a principal and a token made by the CLI while the server runs reach the server through the feed
    await cliJson(dataDir, ['principal', 'create', 'deployer', '--kind', 'agent', '--role', 'operator'])
    const made = await cliJson(dataDir, ['token', 'create', 'deployer', '--name', 'ci'])
    const token = made.token as string
    const known = await within(5_000, async () => (await api('GET', '/api/runs', undefined, {}, token)).status === 200)
    expect(known, 'the server learns of a token the CLI made').not.toBeNull()
    const started = await api(
      'POST',
      '/api/runs',
      { workflow: { text: approvalGate }, input: { version: '3' } },
      {},
      token,
    )
    expect(started.status).toBe(201)

    await cliJson(dataDir, ['token', 'revoke', made.view.id as string])
    const refusedAfter = await within(1_000, async () => {
      const res = await api('GET', '/api/runs', undefined, {}, token)
      return res.status === 401
    })
    expect(refusedAfter, 'the revoked token is refused within a second of the CLI returning').not.toBeNull()
    const refused = await api('GET', `/api/runs/${started.body.runId}`, undefined, {}, token)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect(refused.body.error).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.any(String) })
    expect(JSON.stringify(refused.body)).not.toContain(token)
    const overGraphql = await gqlHttp(base, token, '{ viewer { tenant } }')
    expect(overGraphql.status).toBe(401)
    expect(overGraphql.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')

    // the server goes on: the admin reads and steers, the health checks answer
    expect((await api('GET', '/api/health/ready', undefined, {}, ADMIN)).status).toBe(200)
    const cancelled = await api('POST', `/api/runs/${started.body.runId}/cancel`, { reason: 'done' })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.status).toBe('cancelled')
    const listed = await api('GET', '/api/runs?limit=10')
    expect((listed.body.items as Array<{ runId: string }>).map((r) => r.runId)).toEqual(
      expect.arrayContaining([runId, started.body.runId]),
    )
    // the CLI's changes are in the same chain as the server's; the scans that met the run this
    // server drove while it waited took nothing over and recorded nothing
    const actions = ((await api('GET', '/api/audit?limit=20')).body.items as AuditEntry[]).map((e) => e.action)
    // the revoked token's refusal is audited once (token.use, denied), however often it was sent
    expect(actions.slice(0, 6)).toEqual([
      'run.cancel',
      'token.use',
      'token.revoke',
      'run.start',
      'token.create',
      'principal.create',
    ])
    expect((await api('GET', '/api/audit?action=run.resume-all')).body.items).toEqual([])
  })

  it('leaves a chain that `shiioo audit verify` checks out on the data dir once the server has stopped', async () => {
    const verify = await api('GET', '/api/audit/verify')
    expect(verify.body.ok).toBe(true)
    expect(verify.body.head.seq).toBeGreaterThan(headAfterRun.seq)
    const stopped = await server.stop()
    expect(stopped.code).toBe(0)
    expect(stopped.stderr).not.toMatch(/"level":(50|60)/)

    const report = await cliJson(dataDir, ['audit', 'verify'])
    expect(report).toMatchObject({ tenant: 'default', ok: true, firstBad: null })
    // what the server said is what the data dir holds (the stopping server may add entries, never change one)
    expect(report.entries).toBeGreaterThanOrEqual(verify.body.entries)
    const exported = await runCli(['audit', 'export', '--data-dir', dataDir], { cwd: dataDir })
    expect(exported.code).toBe(0)
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry)
    expect(lines[verify.body.head.seq - 1]!.hash).toBe(verify.body.head.hash)
    expect(lines.find((e) => e.action === 'run.decide')).toMatchObject({
      subject: { id: runId },
      actor: { id: adminId },
    })
    const plain = await runCli(['audit', 'verify', '--data-dir', dataDir], { cwd: dataDir })
    expect(plain.code).toBe(0)
  })
})
