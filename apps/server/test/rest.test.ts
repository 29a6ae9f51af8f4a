import OpenAPIParser from '@readme/openapi-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ErrorJson, RestStack } from './rest-helpers.js'
import { apiClient, exampleYaml, openRestStack } from './rest-helpers.js'

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
