import { validate } from '@readme/openapi-parser'
import { Registry } from 'prom-client'
import { ShiiooError } from '@shiioo/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../src/app.js'
import { createServerMetrics } from '../src/http/metrics.js'
import type { ErrorJson, RestStack } from './rest-helpers.js'
import {
  ACME_TOKEN,
  TAGS_TESTED_ELSEWHERE,
  TESTER,
  apiClient,
  documentedOperations,
  exampleYaml,
  openRestStack,
} from './rest-helpers.js'

interface OpenApiDoc {
  openapi: string
  paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> }
}

let stack: RestStack
let api: ReturnType<typeof apiClient>
const UNKNOWN_RUN = 'run_01JH0000000000000000000000'

beforeAll(async () => {
  stack = await openRestStack()
  api = apiClient(stack.app)
})
afterAll(async () => {
  await stack.close()
})

async function errorOf(res: Response, status: number, code: string): Promise<ErrorJson['error']> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/application\/json/)
  const body = (await res.json()) as ErrorJson
  expect(body.error.code).toBe(code)
  expect(typeof body.error.message).toBe('string')
  expect(body.error.details).toBeTypeOf('object')
  expect(body.error.requestId).toBe(res.headers.get('x-request-id'))
  return body.error
}

/** Starts the approval example and resolves once its review step waits. */
async function startApprovalRun(key?: string): Promise<string> {
  const res = await api.call('post', '/api/runs', {
    body: { workflow: { text: await exampleYaml('approval-gate') }, input: { version: '1.0' } },
    ...(key === undefined ? {} : { headers: { 'Idempotency-Key': key } }),
  })
  expect([200, 201]).toContain(res.status)
  const { runId } = (await res.json()) as { runId: string }
  for (let i = 0; i < 200; i++) {
    const run = (await (await api.call('get', '/api/runs/{runId}', { params: { runId } })).json()) as {
      steps: Array<{ stepId: string; status: string }>
    }
    if (run.steps.find((s) => s.stepId === 'review')?.status === 'waiting') return runId
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('the review step never waited')
}

describe('runs', () => {
  let runId: string

  it('starts a run (201), and the same Idempotency-Key returns it (200, duplicate)', async () => {
    runId = await startApprovalRun('key-1')
    const again = await api.call('post', '/api/runs', {
      body: { workflow: { text: await exampleYaml('approval-gate') }, input: { version: '1.0' } },
      headers: { 'Idempotency-Key': 'key-1' },
    })
    expect(again.status).toBe(200)
    expect(await again.json()).toMatchObject({ runId, duplicate: true })
    const other = await api.call('post', '/api/runs', {
      body: { workflow: { text: await exampleYaml('approval-gate') }, input: { version: '2.0' } },
      headers: { 'Idempotency-Key': 'key-1' },
    })
    await errorOf(other, 409, 'CONFLICT')
  })

  it('lists runs with filters and a cursor', async () => {
    const second = await startApprovalRun()
    const first = await api.call('get', '/api/runs', {
      query: { status: 'running', workflow: 'approval-gate', limit: 1 },
    })
    expect(first.status).toBe(200)
    type Page = { items: Array<{ runId: string; status: string }>; nextCursor: string | null }
    const page = (await first.json()) as Page
    expect(page.items).toHaveLength(1)
    expect(page.nextCursor).not.toBeNull()
    const rest = (await (
      await api.call('get', '/api/runs', { query: { status: 'running', limit: 1, cursor: page.nextCursor! } })
    ).json()) as Page
    expect([page.items[0]!.runId, rest.items[0]!.runId].sort()).toEqual([runId, second].sort())
    const none = (await (await api.call('get', '/api/runs', { query: { status: 'failed' } })).json()) as Page
    expect(none).toEqual({ items: [], nextCursor: null })
    await api.call('post', '/api/runs/{runId}/cancel', {
      params: { runId: second },
      body: { reason: 'only one needed' },
    })
  })

  it('reads a run, its steps, its events (after a seq), its state at a seq and a payload by blob', async () => {
    // an input over the inline limit (8 KiB) is stored as a blob the run's events reference
    const big = await api.call('post', '/api/runs', {
      body: {
        workflow: { text: await exampleYaml('approval-gate') },
        input: { version: '3.0', changes: ['x'.repeat(10_000)] },
      },
    })
    const bigRun = (await (
      await api.call('get', '/api/runs/{runId}', { params: { runId: ((await big.json()) as { runId: string }).runId } })
    ).json()) as { runId: string; input: { blob?: string } }
    const run = (await (await api.call('get', '/api/runs/{runId}', { params: { runId } })).json()) as {
      runId: string
      status: string
      lastSeq: number
      steps: Array<{ stepId: string }>
    }
    expect(run).toMatchObject({ runId, status: 'running' })
    const steps = (await (await api.call('get', '/api/runs/{runId}/steps', { params: { runId } })).json()) as {
      items: Array<{ stepId: string }>
    }
    expect(steps.items.map((s) => s.stepId)).toEqual(['draft', 'review', 'publish'])

    const all = (await (await api.call('get', '/api/runs/{runId}/events', { params: { runId } })).json()) as {
      items: Array<{ seq: number; type: string }>
    }
    expect(all.items[0]).toMatchObject({ seq: 1, type: 'run.started' })
    const after = (await (
      await api.call('get', '/api/runs/{runId}/events', { params: { runId }, query: { after: 2 } })
    ).json()) as { items: Array<{ seq: number }> }
    expect(after.items[0]?.seq).toBe(3)
    expect(after.items).toHaveLength(all.items.length - 2)

    const at = await api.call('get', '/api/runs/{runId}/state', { params: { runId }, query: { seq: 1 } })
    expect(at.status).toBe(200)
    expect(await at.json()).toMatchObject({ runId, asOf: { seq: 1 } })
    await errorOf(
      await api.call('get', '/api/runs/{runId}/state', { params: { runId }, query: { seq: 10_000 } }),
      400,
      'INVALID_INPUT',
    )

    const blob = bigRun.input.blob!
    expect(blob).toMatch(/^[0-9a-f]{64}$/)
    const value = await api.call('get', '/api/runs/{runId}/payloads/{blob}', {
      params: { runId: bigRun.runId, blob },
    })
    expect(value.status).toBe(200)
    expect(await value.json()).toMatchObject({ value: { version: '3.0' } })
    await api.call('post', '/api/runs/{runId}/cancel', { params: { runId: bigRun.runId } })
    await errorOf(
      await api.call('get', '/api/runs/{runId}/payloads/{blob}', { params: { runId, blob: 'a'.repeat(64) } }),
      404,
      'NOT_FOUND',
    )
  })

  it('lists the approvals waiting in the tenant and decides one', async () => {
    const pending = await api.call('get', '/api/approvals', { query: { workflow: 'approval-gate' } })
    expect(pending.status).toBe(200)
    const page = (await pending.json()) as { items: Array<{ runId: string; stepId: string; prompt: string | null }> }
    expect(page.items).toContainEqual(expect.objectContaining({ runId, stepId: 'review' }))
    expect(page.items.find((a) => a.runId === runId)!.prompt).toContain('Publish these release notes for 1.0')

    const decided = await api.call('post', '/api/runs/{runId}/approvals/{stepId}', {
      params: { runId, stepId: 'review' },
      body: { decision: 'approve', comment: 'ship it' },
    })
    expect(decided.status).toBe(200)
    expect(await decided.json()).toMatchObject({
      decisions: [{ stepId: 'review', decision: 'approve', comment: 'ship it', actor: { id: 'local:tester' } }],
    })
    const after = (await (await api.call('get', '/api/approvals')).json()) as { items: Array<{ runId: string }> }
    expect(after.items.map((a) => a.runId)).not.toContain(runId)
  })

  it('pauses, resumes, signals, cancels and forks a run; replays a finished one', async () => {
    const other = await startApprovalRun()
    const paused = await api.call('post', '/api/runs/{runId}/pause', { params: { runId: other }, body: {} })
    expect(paused.status).toBe(200)
    expect(await paused.json()).toMatchObject({ status: 'paused' })
    const resumed = await api.call('post', '/api/runs/{runId}/resume', { params: { runId: other } })
    expect(await resumed.json()).toMatchObject({ status: 'running' })
    const signalled = await api.call('post', '/api/runs/{runId}/signals', {
      params: { runId: other },
      body: { name: 'deploy.finished', payload: { ok: true } },
    })
    expect(signalled.status).toBe(200)
    expect(await signalled.json()).toMatchObject({ receivedEvents: [{ name: 'deploy.finished' }] })
    const cancelled = await api.call('post', '/api/runs/{runId}/cancel', { params: { runId: other } })
    expect(await cancelled.json()).toMatchObject({ status: 'cancelled' })

    const replayed = await api.call('post', '/api/runs/{runId}/replay', { params: { runId: other } })
    expect(replayed.status).toBe(200)
    expect(await replayed.json()).toMatchObject({ runId: other, ok: true, calls: 0 })

    const forked = await api.call('post', '/api/runs/{runId}/fork', {
      params: { runId: other },
      body: { fromStep: 'review' },
    })
    expect(forked.status).toBe(201)
    const fork = (await forked.json()) as { runId: string }
    expect(fork.runId).not.toBe(other)
    const read = await api.call('get', '/api/runs/{runId}', { params: { runId: fork.runId } })
    expect(await read.json()).toMatchObject({ forkOf: { runId: other, fromStep: 'review' } })
    await api.call('post', '/api/runs/{runId}/cancel', { params: { runId: fork.runId } })
  })

  it('answers 404 with the error shape for a run that does not exist, and 400 for a malformed id', async () => {
    for (const path of ['/api/runs/{runId}', '/api/runs/{runId}/events', '/api/runs/{runId}/steps']) {
      await errorOf(await api.call('get', path, { params: { runId: UNKNOWN_RUN } }), 404, 'NOT_FOUND')
    }
    await errorOf(
      await api.call('post', '/api/runs/{runId}/cancel', { params: { runId: UNKNOWN_RUN } }),
      404,
      'NOT_FOUND',
    )
    const bad = await errorOf(
      await api.call('get', '/api/runs/{runId}', { params: { runId: 'nope' } }),
      400,
      'INVALID_INPUT',
    )
    expect(bad.details.field).toBe('path.runId')
  })
})

describe('workflows', () => {
  it('registers from YAML and from JSON, lists, gets one with its definition and its versions', async () => {
    const yaml = await exampleYaml('conditional-branch')
    const registered = await api.call('post', '/api/workflows', { raw: yaml, contentType: 'application/yaml' })
    expect(registered.status).toBe(200)
    const first = (await registered.json()) as { name: string; hash: string; changed: boolean }
    expect(first).toMatchObject({ name: 'conditional-branch', changed: true })
    const again = await api.call('post', '/api/workflows', { body: { text: yaml } })
    expect(await again.json()).toMatchObject({ hash: first.hash, changed: false })
    const definition = { name: 'tiny', steps: [{ id: 'only', kind: 'transform', output: { x: 1 } }] }
    const asObject = await api.call('post', '/api/workflows', { body: { definition } })
    expect(asObject.status).toBe(200)

    const list = (await (await api.call('get', '/api/workflows')).json()) as { items: Array<{ name: string }> }
    expect(list.items.map((w) => w.name)).toEqual(expect.arrayContaining(['conditional-branch', 'tiny']))
    const one = await api.call('get', '/api/workflows/{name}', { params: { name: 'conditional-branch' } })
    expect(one.status).toBe(200)
    expect(await one.json()).toMatchObject({
      name: 'conditional-branch',
      hash: first.hash,
      definitionHash: first.hash,
      definition: { name: 'conditional-branch' },
    })
    const pinned = await api.call('get', '/api/workflows/{name}', {
      params: { name: 'conditional-branch' },
      query: { hash: first.hash },
    })
    expect(pinned.status).toBe(200)
    const versions = await api.call('get', '/api/workflows/{name}/versions', { params: { name: 'tiny' } })
    expect(await versions.json()).toMatchObject({ name: 'tiny', items: [{ current: true }] })
  })

  it('refuses an invalid definition listing its problems, an unknown name with 404', async () => {
    const bad = await api.call('post', '/api/workflows', {
      raw: 'name: x\nsteps: 3\n',
      contentType: 'application/yaml',
    })
    const error = await errorOf(bad, 400, 'INVALID_INPUT')
    expect(error.details.errors).toBeInstanceOf(Array)
    await errorOf(await api.call('get', '/api/workflows/{name}', { params: { name: 'absent' } }), 404, 'NOT_FOUND')
    await errorOf(
      await api.call('get', '/api/workflows/{name}/versions', { params: { name: 'Bad Name' } }),
      400,
      'INVALID_INPUT',
    )
    await errorOf(
      await api.call('post', '/api/workflows', { raw: 'x', contentType: 'text/plain' }),
      400,
      'INVALID_INPUT',
    )
  })
})

describe('costs, capacity, audit', () => {
  it('reads the cost ledger by a dimension, and refuses an unknown one naming the field', async () => {
    const res = await api.call('get', '/api/costs', { query: { by: 'model' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ items: expect.any(Array) })
    const byRun = await api.call('get', '/api/costs', {
      query: { by: 'step', runId: UNKNOWN_RUN, from: '2026-01-01T00:00:00Z', before: '2027-01-01T00:00:00Z' },
    })
    expect(await byRun.json()).toEqual({ items: [] })
    const bad = await errorOf(await api.call('get', '/api/costs', { query: { by: 'colour' } }), 400, 'INVALID_INPUT')
    expect(bad.details.field).toBe('query.by')
  })

  it('reads the capacity pool and usage (no sources configured: an empty pool)', async () => {
    const pool = await api.call('get', '/api/capacity/sources')
    expect(pool.status).toBe(200)
    expect(await pool.json()).toEqual({ queued: 0, inFlight: 0, sources: [] })
    const usage = await api.call('get', '/api/capacity/usage', { query: { from: '2026-01-01T00:00:00Z' } })
    expect(await usage.json()).toEqual({ items: [] })
    await errorOf(await api.call('get', '/api/capacity/usage', { query: { from: 'yesterday' } }), 400, 'INVALID_INPUT')
  })

  it('lists audit entries with filters, verifies the chain and exports JSON Lines', async () => {
    const res = await api.call('get', '/api/audit', { query: { action: 'run.start', actor: 'local:tester', limit: 2 } })
    expect(res.status).toBe(200)
    const page = (await res.json()) as { items: Array<{ action: string; seq: number }>; nextBefore: number | null }
    expect(page.items).toHaveLength(2)
    expect(page.items.every((e) => e.action === 'run.start')).toBe(true)
    const older = (await (
      await api.call('get', '/api/audit', { query: { before: page.nextBefore!, since: '2026-01-01' } })
    ).json()) as { items: Array<{ seq: number }> }
    expect(older.items.every((e) => e.seq < page.nextBefore!)).toBe(true)
    await errorOf(await api.call('get', '/api/audit', { query: { action: 'DROP TABLE' } }), 400, 'INVALID_INPUT')

    const verify = await api.call('get', '/api/audit/verify')
    expect(await verify.json()).toMatchObject({ ok: true, firstBad: null })

    const exported = await api.call('get', '/api/audit/export')
    expect(exported.status).toBe(200)
    expect(exported.headers.get('content-type')).toMatch(/application\/x-ndjson/)
    const lines = (await exported.text()).trim().split('\n')
    const entries = lines.map((l) => JSON.parse(l) as { seq: number; hash: string })
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i + 1))
  })
})

describe('health, metrics, documents', () => {
  it('answers health, live and ready without a token; ready is 503 until the app says it is', async () => {
    const health = await api.call('get', '/api/health', { token: null })
    expect(await health.json()).toEqual({ status: 'ok', version: '1.2.3', uptimeSeconds: 5 })
    expect(await (await api.call('get', '/api/health/live', { token: null })).json()).toEqual({ status: 'ok' })
    const ready = await api.call('get', '/api/health/ready', { token: null })
    expect(ready.status).toBe(200)
    let state = { ready: false, checks: { indexCaughtUp: false, dataDirOpen: true } }
    const starting = createApp({ ...stack.deps, readiness: () => state })
    const notReady = await starting.request('/api/health/ready')
    expect(notReady.status).toBe(503)
    expect(await notReady.json()).toEqual({ status: 'not_ready', checks: state.checks })
    state = { ready: true, checks: { indexCaughtUp: true, dataDirOpen: true } }
    expect((await starting.request('/api/health/ready')).status).toBe(200)
  })

  it('exports Prometheus metrics from real counters at /metrics and /api/metrics, with a token only', async () => {
    const res = await api.call('get', '/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/plain/)
    const text = await res.text()
    expect(text).toMatch(/^shiioo_runs\{tenant="default",status="cancelled"\} [1-9]\d*$/m)
    expect(text).toMatch(/^shiioo_runs\{tenant="default",status="running"\} \d+$/m)
    expect(text).toContain('shiioo_pool_queue_depth 0')
    expect(text).toMatch(
      /^shiioo_http_request_duration_seconds_count\{route="\/api\/runs\/:runId",method="GET",status="200"\} \d+$/m,
    )
    expect(text).toMatch(
      /^shiioo_http_request_duration_seconds_count\{route="\/api\/runs\/:runId",method="GET",status="404"\} \d+$/m,
    )
    // never an id as a label: routes by pattern
    expect(text).not.toMatch(/route="[^"]*run_/)
    const api2 = await api.call('get', '/api/metrics')
    expect(api2.status).toBe(200)
    await errorOf(await api.call('get', '/metrics', { token: null }), 401, 'UNAUTHENTICATED')
  })

  it('counts step latencies and run ends observed on the live feed', async () => {
    const metrics = createServerMetrics(new Registry())
    const observing = new AbortController()
    const observed = stack.orchestrator.metrics.observe(TESTER, (o) => metrics.observe(o), {
      signal: observing.signal,
    })
    const runId = await startApprovalRun()
    await api.call('post', '/api/runs/{runId}/cancel', { params: { runId } })
    const text = async () => (await metrics.render(await stack.orchestrator.metrics.snapshot(TESTER))).text
    for (let i = 0; i < 100 && !/shiioo_runs_ended_total\{status="cancelled"\} 1/.test(await text()); i++) {
      await new Promise((r) => setTimeout(r, 20))
    }
    observing.abort()
    await observed
    const out = await text()
    expect(out).toMatch(/^shiioo_runs_ended_total\{status="cancelled"\} 1$/m)
    expect(out).toMatch(/^shiioo_step_duration_seconds_count\{status="completed"\} [1-9]\d*$/m)
  })

  it('serves an OpenAPI 3.1 document that validates, with bearer security and the error shape', async () => {
    const res = await api.call('get', '/api/openapi.json', { token: null })
    expect(res.status).toBe(200)
    const doc = (await res.json()) as OpenApiDoc
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.components.securitySchemes.bearerAuth).toEqual(
      expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    )
    expect(doc.components.schemas.Error).toBeDefined()
    const result = await validate(structuredClone(doc) as never)
    expect(result.valid ? [] : result.errors).toEqual([])
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (path.startsWith('/api/health')) continue
        expect(op.security, `${method} ${path}`).toEqual([{ bearerAuth: [] }])
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['400', '401', '403']))
      }
    }
  })

  it('serves the API reference page and its assets from the bundled swagger-ui, no CDN', async () => {
    const page = await api.call('get', '/api/docs', { token: null })
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).not.toMatch(/https?:\/\//)
    for (const asset of [...html.matchAll(/(?:src|href)="(\/api\/docs\/[^"]+)"/g)].map((m) => m[1]!)) {
      const res = await stack.app.request(asset)
      expect(res.status, asset).toBe(200)
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(10)
    }
    expect(await (await stack.app.request('/api/docs/init.js')).text()).toContain("url: '/api/openapi.json'")
    for (const path of ['/api/docs/package.json', '/api/docs/..%2F..%2Fpackage.json', '/api/docs/index.html']) {
      expect((await stack.app.request(path)).status, path).toBe(404)
    }
  })
})

describe('refusals: the error shape, never a 5xx, nothing changed', () => {
  /** What a refused request must not have changed: the tenant's runs (and their last events). */
  async function snapshot() {
    const runs = (await (await api.call('get', '/api/runs', { query: { limit: 500 } })).json()) as {
      items: Array<{ runId: string; lastSeq: number }>
    }
    return runs.items.map((r) => `${r.runId}@${r.lastSeq}`).sort()
  }

  /** The audit entries appended after `seq`: a refused change is recorded, as an error, never as done. */
  async function auditAfter(seq: number) {
    const page = (await (await api.call('get', '/api/audit', { query: { limit: 1000 } })).json()) as {
      items: Array<{ seq: number; outcome: { status: string } }>
    }
    return page.items.filter((e) => e.seq > seq)
  }

  async function auditHead(): Promise<number> {
    const verify = (await (await api.call('get', '/api/audit/verify')).json()) as { head: { seq: number } | null }
    return verify.head?.seq ?? 0
  }

  it('refuses bad JSON, wrong types and unknown fields with 400 naming the field', async () => {
    const before = await snapshot()
    const head = await auditHead()
    const badJson = await api.call('post', '/api/runs', { raw: '{"workflow": ', contentType: 'application/json' })
    await errorOf(badJson, 400, 'INVALID_INPUT')
    const wrongType = await api.call('post', '/api/runs', {
      body: { workflow: { text: await exampleYaml('approval-gate') }, input: 'not an object' },
    })
    expect((await errorOf(wrongType, 400, 'INVALID_INPUT')).details.field).toBe('body.input')
    const unknownField = await api.call('post', '/api/runs/{runId}/fork', {
      params: { runId: UNKNOWN_RUN },
      body: { fromStep: 'a', extra: 1 },
    })
    await errorOf(unknownField, 400, 'INVALID_INPUT')
    const badLimit = await api.call('get', '/api/runs', { query: { limit: 'lots' } })
    expect((await errorOf(badLimit, 400, 'INVALID_INPUT')).details.field).toBe('query.limit')
    const badStatus = await api.call('get', '/api/runs', { query: { status: 'sleeping' } })
    expect((await errorOf(badStatus, 400, 'INVALID_INPUT')).details.field).toBe('query.status')
    const badDecision = await api.call('post', '/api/runs/{runId}/approvals/{stepId}', {
      params: { runId: UNKNOWN_RUN, stepId: 'review' },
      body: { decision: 'maybe' },
    })
    expect((await errorOf(badDecision, 400, 'INVALID_INPUT')).details.field).toBe('body.decision')
    const badWorkflow = await api.call('post', '/api/runs', { body: { workflow: { text: 'steps: [' } } })
    await errorOf(badWorkflow, 400, 'INVALID_INPUT')
    const badInput = await api.call('post', '/api/runs', {
      body: { workflow: { text: await exampleYaml('approval-gate') } },
    })
    await errorOf(badInput, 400, 'INVALID_INPUT')
    const stepId = await api.call('post', '/api/runs/{runId}/approvals/{stepId}', {
      params: { runId: UNKNOWN_RUN, stepId: '..%2F..' },
      body: { decision: 'approve' },
    })
    expect(stepId.status).toBeGreaterThanOrEqual(400)
    expect(stepId.status).toBeLessThan(500)
    expect(await snapshot()).toEqual(before)
    for (const entry of await auditAfter(head)) expect(entry.outcome.status).toBe('error')
  })

  it('refuses a body over the limit with 413 in the error shape', async () => {
    const small = createApp({ ...stack.deps, http: { maxBodyBytes: 2048 } })
    const big = JSON.stringify({ workflow: { text: 'x'.repeat(4096) } })
    const res = await small.request('/api/runs', {
      method: 'POST',
      headers: { Authorization: 'Bearer test-token', 'Content-Type': 'application/json' },
      body: big,
    })
    await errorOf(res, 413, 'PAYLOAD_TOO_LARGE')
    // a streamed body (node's fetch needs `duplex` for one, which not every RequestInit type knows)
    const streamedInit = {
      method: 'POST',
      headers: { Authorization: 'Bearer test-token', 'Content-Type': 'application/yaml' },
      body: new Blob(['x'.repeat(4096)]).stream(),
      duplex: 'half',
    } as RequestInit
    const streamed = await small.request('/api/workflows', streamedInit)
    await errorOf(streamed, 413, 'PAYLOAD_TOO_LARGE')
  })

  it('answers path tricks with a 4xx in the error shape', async () => {
    const paths = [
      '/api/runs/..%2F..%2Fetc%2Fpasswd',
      '/api/runs/%2e%2e/events',
      `/api/runs/${UNKNOWN_RUN}%2F..%2F..%2Fevents`,
      '/api/runs/run_..%252F..',
      '/api/workflows/..%2F..%2Fcontrol',
      '/api/workflows/%00',
      `/api/runs/${UNKNOWN_RUN}/payloads/..%2F..%2F${'0'.repeat(64)}`,
      '/api//runs',
    ]
    for (const path of paths) {
      const res = await stack.app.request(path, { headers: { Authorization: 'Bearer test-token' } })
      expect(res.status, path).toBeGreaterThanOrEqual(400)
      expect(res.status, path).toBeLessThan(500)
      const body = (await res.json()) as ErrorJson
      expect(body.error.code, path).toMatch(/^(INVALID_INPUT|NOT_FOUND)$/)
    }
  })

  it('refuses a missing, malformed or unknown token with 401 and WWW-Authenticate', async () => {
    const none = await api.call('get', '/api/runs', { token: null })
    await errorOf(none, 401, 'UNAUTHENTICATED')
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/)
    const basic = await stack.app.request('/api/runs', { headers: { Authorization: 'Basic dXNlcjpwYXNz' } })
    await errorOf(basic, 401, 'UNAUTHENTICATED')
    const unknown = await api.call('post', '/api/runs', { token: 'nope', body: {} })
    await errorOf(unknown, 401, 'UNAUTHENTICATED')
    expect(unknown.headers.get('www-authenticate')).toContain('invalid_token')
  })

  it('answers what the gate refuses with 403', async () => {
    const refusing = await openRestStack({
      orchestrator: {
        gate: () => {
          throw new ShiiooError('FORBIDDEN', 'not for you')
        },
      },
    })
    try {
      const res = await refusing.app.request('/api/runs', { headers: { Authorization: 'Bearer test-token' } })
      await errorOf(res, 403, 'FORBIDDEN')
    } finally {
      await refusing.close()
    }
  })

  it('answers an unknown API route with a JSON 404 and other paths with text', async () => {
    for (const path of ['/api/x', '/api', '/api/health/extra']) {
      await errorOf(
        await stack.app.request(path, { headers: { Authorization: 'Bearer test-token' } }),
        404,
        'NOT_FOUND',
      )
    }
    const page = await stack.app.request('/')
    expect(await page.text()).toContain('dashboard coming soon')
  })
})

describe('request ids and CORS', () => {
  it('echoes a well-formed X-Request-Id (in the header and error bodies) and replaces any other', async () => {
    const res = await api.call('get', '/api/runs/{runId}', {
      params: { runId: UNKNOWN_RUN },
      headers: { 'X-Request-Id': 'trace-42' },
    })
    expect(res.headers.get('x-request-id')).toBe('trace-42')
    expect((await errorOf(res, 404, 'NOT_FOUND')).requestId).toBe('trace-42')
    const odd = await stack.app.request('/api/health', { headers: { 'X-Request-Id': 'has spaces\tand tabs' } })
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('is closed by default and opens to the configured origins only', async () => {
    const preflight = (app: { request: typeof stack.app.request }, origin: string) =>
      app.request('/api/runs', {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' },
      })
    const closed = await preflight(stack.app, 'https://ops.example.com')
    expect(closed.headers.get('access-control-allow-origin')).toBeNull()
    const get = await stack.app.request('/api/health', { headers: { Origin: 'https://ops.example.com' } })
    expect(get.headers.get('access-control-allow-origin')).toBeNull()

    const open = createApp({ ...stack.deps, http: { corsOrigins: ['https://ops.example.com'] } })
    const allowed = await preflight(open, 'https://ops.example.com')
    expect(allowed.status).toBe(204)
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://ops.example.com')
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/Authorization/i)
    const other = await preflight(open, 'https://evil.example.com')
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('tenant isolation', () => {
  it('shows a caller of another tenant nothing of this one: the same 404 as for ids that do not exist', async () => {
    const runId = await startApprovalRun()
    const as = { token: ACME_TOKEN }
    for (const path of ['/api/runs/{runId}', '/api/runs/{runId}/events', '/api/runs/{runId}/steps']) {
      const theirs = await errorOf(await api.call('get', path, { ...as, params: { runId } }), 404, 'NOT_FOUND')
      const none = await errorOf(
        await api.call('get', path, { ...as, params: { runId: UNKNOWN_RUN } }),
        404,
        'NOT_FOUND',
      )
      expect(theirs.message.replace(runId, '<id>')).toBe(none.message.replace(UNKNOWN_RUN, '<id>'))
    }
    await errorOf(
      await api.call('post', '/api/runs/{runId}/approvals/{stepId}', {
        ...as,
        params: { runId, stepId: 'review' },
        body: { decision: 'approve' },
      }),
      404,
      'NOT_FOUND',
    )
    await errorOf(await api.call('post', '/api/runs/{runId}/cancel', { ...as, params: { runId } }), 404, 'NOT_FOUND')
    expect(await (await api.call('get', '/api/runs', as)).json()).toEqual({ items: [], nextCursor: null })
    expect(await (await api.call('get', '/api/approvals', as)).json()).toEqual({ items: [], nextCursor: null })
    expect(await (await api.call('get', '/api/workflows', as)).json()).toEqual({ items: [] })
    await errorOf(
      await api.call('get', '/api/workflows/{name}', { ...as, params: { name: 'approval-gate' } }),
      404,
      'NOT_FOUND',
    )
    const audit = (await (await api.call('get', '/api/audit', as)).json()) as { items: Array<{ tenant: string }> }
    expect(audit.items.every((e) => e.tenant === 'acme')).toBe(true)
    const metrics = await (await api.call('get', '/metrics', as)).text()
    expect(metrics).not.toContain('tenant="default"')
    // and this tenant's run is untouched
    const run = (await (await api.call('get', '/api/runs/{runId}', { params: { runId } })).json()) as {
      status: string
      decisions: unknown[]
    }
    expect(run).toMatchObject({ status: 'running', decisions: [] })
    await api.call('post', '/api/runs/{runId}/cancel', { params: { runId } })
  })
})

describe('the OpenAPI document', () => {
  it('documents no operation that no test above exercised (bar the tags another file covers)', async () => {
    const operations = await documentedOperations(stack.app)
    const elsewhere = operations.filter((o) => o.tags.some((t) => t in TAGS_TESTED_ELSEWHERE)).map((o) => o.op)
    const documented = operations.map((o) => o.op).filter((op) => !elsewhere.includes(op))
    expect(documented.length).toBeGreaterThan(25)
    const missed = documented.filter((op) => !api.covered.has(op))
    expect(missed).toEqual([])
    // and every call the tests made names a documented operation
    const undocumented = ['get /api/openapi.json', 'get /api/docs']
    expect(
      [...api.covered].filter(
        (op) => !documented.includes(op) && !elsewhere.includes(op) && !undocumented.includes(op),
      ),
    ).toEqual([])
  })
})
