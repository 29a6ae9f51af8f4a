import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ErrorCode, TenantId } from '@shiioo/core'
import { ERROR_CODES, FsBlobStore, Projector, ShiiooError, openFsEventLog } from '@shiioo/core'
import type { CallerContext, Orchestrator } from '@shiioo/orchestrator'
import { CONTROL_PROJECTIONS, createOrchestrator, localCaller } from '@shiioo/orchestrator'
import { openSqliteIndex } from '@shiioo/store-sqlite'
import type { ExecutionResult } from 'graphql'
import { GraphQLError, graphql, parse, subscribe } from 'graphql'
import { afterEach, describe, expect, it } from 'vitest'
import type { GraphQLServices } from '../src/index.js'
import { GRAPHQL_ERRORS, createGraphQL, toGraphQLError } from '../src/index.js'

const EXAMPLES = fileURLToPath(new URL('../../../examples/workflows/', import.meta.url))
const alice = localCaller('alice')
const echo = { name: 'echo', steps: [{ id: 'say', kind: 'tool', tool: 'core.echo' }] }
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function openStack(): Promise<Orchestrator> {
  const dir = await mkdtemp(join(tmpdir(), 'shiioo-graphql-'))
  const log = openFsEventLog({ dataDir: dir })
  const index = openSqliteIndex({ path: join(dir, 'index.sqlite') })
  const projector = new Projector({ log, index, projections: CONTROL_PROJECTIONS })
  const orchestrator = createOrchestrator({ log, blobs: new FsBlobStore({ dataDir: dir }), index, projector })
  cleanups.push(async () => {
    await orchestrator.close()
    await index.close()
    await log.close()
    await rm(dir, { recursive: true, force: true })
  })
  return orchestrator
}

/** The services with `runs.get` counted: what the dataloaders save. */
function counting(o: Orchestrator): { services: GraphQLServices; gets: string[] } {
  const gets: string[] = []
  const runs = {
    ...o.runs,
    get: (caller: typeof alice, runId: string) => (gets.push(runId), o.runs.get(caller, runId)),
  }
  return {
    services: { runs, workflows: o.workflows, audit: o.audit, live: o.live, identity: o.identity, tools: o.tools },
    gets,
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- data is checked by the expectations
type Data = any

async function run(services: GraphQLServices, source: string, variableValues: Record<string, unknown> = {}) {
  return runAs(alice, services, source, variableValues)
}

async function runAs(
  caller: CallerContext,
  services: GraphQLServices,
  source: string,
  variableValues: Record<string, unknown> = {},
) {
  const api = createGraphQL(services)
  const result = await graphql({ schema: api.schema, source, variableValues, contextValue: api.context(caller) })
  return result as ExecutionResult<Data>
}

const codeOf = (r: ExecutionResult) => toGraphQLError(r.errors?.[0]).error.extensions.code

describe('the GraphQL schema over the orchestrator', () => {
  it('reads each run once per operation however many fields name it, and pages the listing', async () => {
    const o = await openStack()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const { runId } = await o.runs.start(alice, { source: { definition: echo } })
      await o.runs.wait(alice, runId)
      ids.push(runId)
    }
    const { services, gets } = counting(o)
    const result = await run(
      services,
      `query($id: ID!) {
        runs { items { runId run { status } again: run { lastSeq steps { stepId } } } nextCursor }
        one: run(id: $id) { status }
        two: run(id: $id) { cost { calls } }
      }`,
      { id: ids[0] },
    )
    expect(result.errors).toBeUndefined()
    expect(result.data.runs.items).toHaveLength(3)
    expect(result.data.runs.nextCursor).toBeNull()
    expect([...gets].sort()).toEqual([...ids].sort())

    const first = await run(services, '{ runs(first: 2) { items { runId } nextCursor } }')
    const rest = await run(
      services,
      'query($after: String) { runs(first: 2, after: $after) { items { runId } nextCursor } }',
      {
        after: first.data.runs.nextCursor,
      },
    )
    expect([...first.data.runs.items, ...rest.data.runs.items].map((r: { runId: string }) => r.runId).sort()).toEqual(
      [...ids].sort(),
    )
    expect(rest.data.runs.nextCursor).toBeNull()
  })

  it('answers each query and command from its service', async () => {
    const o = await openStack()
    const { services } = counting(o)
    const yaml = await readFile(join(EXAMPLES, 'approval-gate.yaml'), 'utf8')
    const started = await run(
      services,
      `mutation($text: String!) { startRun(workflow: { text: $text }, input: { version: "9" }, idempotencyKey: "k1") { runId duplicate warnings } }`,
      { text: yaml },
    )
    expect(started.errors).toBeUndefined()
    const runId: string = started.data.startRun.runId
    await waitFor(async () => (await o.runs.get(alice, runId)).steps.some((s) => s.status === 'waiting'))

    const waiting = await run(services, `query($id: ID!) { run(id: $id) { status waits { stepId wait { for } } } }`, {
      id: runId,
    })
    expect(waiting.data.run).toEqual({ status: 'running', waits: [{ stepId: 'review', wait: { for: 'approval' } }] })
    const paused = await run(services, `mutation($id: ID!) { pauseRun(runId: $id, reason: "lunch") { status } }`, {
      id: runId,
    })
    expect(paused.data.pauseRun.status).toBe('paused')
    const resumed = await run(services, `mutation($id: ID!) { resumeRun(runId: $id) { status } }`, { id: runId })
    expect(resumed.data.resumeRun.status).toBe('running')
    const signalled = await run(
      services,
      `mutation($id: ID!) { signalRun(runId: $id, name: "ping", payload: { n: 1 }) { receivedEvents { name payload } } }`,
      { id: runId },
    )
    expect(signalled.data.signalRun.receivedEvents).toEqual([{ name: 'ping', payload: { inline: { n: 1 } } }])
    const decided = await run(
      services,
      `mutation($id: ID!) { decideApproval(runId: $id, stepId: "review", decision: reject, comment: "no") { decisions { decision comment } } }`,
      { id: runId },
    )
    expect(decided.data.decideApproval.decisions).toEqual([{ decision: 'reject', comment: 'no' }])
    await o.runs.wait(alice, runId)

    const reads = await run(
      services,
      `query($id: ID!) {
        events(runId: $id) { seq type actor { kind id } }
        stateAt(runId: $id, seq: 1) { asOfSeq status steps { stepId } }
        workflows { name versions }
        costs(by: run) { key calls }
        audit(limit: 2) { items { action outcome } nextBefore }
        auditVerify { ok entries firstBadSeq }
        viewer { tenant actor { id } roles principal { id } }
      }`,
      { id: runId },
    )
    expect(reads.errors).toBeUndefined()
    expect(reads.data.events[0]).toEqual({ seq: 1, type: 'run.started', actor: { kind: 'user', id: 'local:alice' } })
    expect(reads.data.stateAt).toEqual({ asOfSeq: 1, status: 'running', steps: [] })
    expect((reads.data.workflows as Array<{ name: string }>).map((w) => w.name)).toEqual(['approval-gate'])
    expect(reads.data.auditVerify).toMatchObject({ ok: true, firstBadSeq: null })
    expect(reads.data.audit.items).toHaveLength(2)
    expect(reads.data.viewer).toEqual({
      tenant: 'default',
      actor: { id: 'local:alice' },
      roles: ['admin'],
      principal: null,
    })

    const forked = await run(services, `mutation($id: ID!) { forkRun(runId: $id, fromStep: "review") { runId } }`, {
      id: runId,
    })
    expect(forked.errors).toBeUndefined()
    await run(services, `mutation($id: ID!) { cancelRun(runId: $id, reason: "enough") { status } }`, {
      id: forked.data.forkRun.runId,
    })
    const registered = await run(
      services,
      `mutation($d: JSON!) { registerWorkflow(workflow: { definition: $d }) { name changed } }`,
      {
        d: echo,
      },
    )
    expect(registered.data.registerWorkflow).toEqual({ name: 'echo', changed: true })
  })

  it('manages principals and tokens: a token made here is shown once and authenticates; refusals keep their code', async () => {
    const o = await openStack()
    const { services } = counting(o)
    const made = await run(
      services,
      `mutation {
        createPrincipal(kind: agent, name: "bob", roles: [viewer]) { id name kind roles status }
        createToken(principal: "bob", name: "ci") { token apiToken { id principalId prefix status expiresAt } }
      }`,
    )
    expect(made.errors).toBeUndefined()
    const bobId: string = made.data.createPrincipal.id
    expect(made.data.createPrincipal).toEqual({
      id: bobId,
      name: 'bob',
      kind: 'agent',
      roles: ['viewer'],
      status: 'active',
    })
    const { token, apiToken } = made.data.createToken as { token: string; apiToken: { id: string; prefix: string } }
    expect(token).toMatch(/^shiioo_[A-Za-z0-9_-]{43}$/)
    expect(apiToken).toMatchObject({
      principalId: bobId,
      prefix: token.slice(0, 14),
      status: 'active',
      expiresAt: null,
    })

    // the token authenticates as bob, a viewer: he may ask who he is, not manage tokens (refusal audited)
    const bob = await o.identity.authenticate(token)
    const me = await runAs(bob, services, `{ viewer { tenant roles actor { id } principal { name } } }`)
    expect(me.data.viewer).toEqual({
      tenant: 'default',
      roles: ['viewer'],
      actor: { id: bobId },
      principal: { name: 'bob' },
    })
    const refused = await runAs(bob, services, `mutation { createToken(principal: "bob", name: "more") { token } }`)
    expect(codeOf(refused)).toBe('FORBIDDEN')
    expect(codeOf(await runAs(bob, services, `{ tokens { id } }`))).toBe('FORBIDDEN')
    const denied = await o.audit.list(alice, { actor: bobId })
    expect(denied.items.map((e) => [e.action, e.outcome.status])).toEqual([
      ['token.list', 'denied'],
      ['token.create', 'denied'],
    ])

    const reads = await run(
      services,
      `query($id: String!) {
        principals { name }
        byId: principal(ref: $id) { name }
        byName: principal(ref: "bob") { id }
        tokens(principal: "bob") { id prefix status }
        all: tokens { id }
      }`,
      { id: bobId },
    )
    expect(reads.errors).toBeUndefined()
    expect(reads.data.principals).toEqual([{ name: 'bob' }])
    expect(reads.data.byId).toEqual({ name: 'bob' })
    expect(reads.data.byName).toEqual({ id: bobId })
    expect(reads.data.tokens).toEqual([{ id: apiToken.id, prefix: apiToken.prefix, status: 'active' }])
    expect(JSON.stringify(reads.data)).not.toContain(token)

    // another tenant sees none of it: the same NOT_FOUND as ids that do not exist
    const mallory = localCaller('mallory', 'acme' as TenantId)
    for (const query of [
      `{ principal(ref: "${bobId}") { id } }`,
      `{ principal(ref: "prn_01ARZ3NDEKTSV4RRFFQ69G5FAV") { id } }`,
      `mutation { revokeToken(tokenId: "${apiToken.id}") { id } }`,
      `mutation { setRoles(principal: "bob", roles: [admin]) { id } }`,
    ]) {
      expect(codeOf(await runAs(mallory, services, query)), query).toBe('NOT_FOUND')
    }

    const changed = await run(
      services,
      `mutation($tok: ID!) {
        setRoles(principal: "bob", roles: [operator, approver]) { roles }
        revokeToken(tokenId: $tok) { status revokedAt }
      }`,
      { tok: apiToken.id },
    )
    expect(changed.errors).toBeUndefined()
    expect(changed.data.setRoles.roles).toEqual(['operator', 'approver'])
    expect(changed.data.revokeToken.status).toBe('revoked')
    await expect(o.identity.authenticate(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    const disabled = await run(services, `mutation { disablePrincipal(principal: "bob", reason: "gone") { status } }`)
    expect(disabled.data.disablePrincipal).toEqual({ status: 'disabled' })
    const none = await run(services, `mutation { createToken(principal: "bob", name: "x") { token } }`)
    expect(codeOf(none)).toBe('CONFLICT')
    expect(
      codeOf(await run(services, `mutation { createPrincipal(kind: user, name: "Bad Name", roles: []) { id } }`)),
    ).toBe('INVALID_INPUT')
  })

  it('keeps the code of a refusal, names the field of bad input, and masks internal errors', async () => {
    const o = await openStack()
    const { services } = counting(o)
    const both = await run(services, `mutation { startRun(workflow: { text: "x", definition: {} }) { runId } }`)
    expect(codeOf(both)).toBe('INVALID_INPUT')
    const missing = await run(services, `{ run(id: "run_01ARZ3NDEKTSV4RRFFQ69G5FAV") { status } }`)
    expect(codeOf(missing)).toBe('NOT_FOUND')
    const malformed = await run(services, `{ run(id: "nope") { status } }`)
    expect(toGraphQLError(malformed.errors?.[0]).error.extensions).toMatchObject({
      code: 'INVALID_INPUT',
      field: 'runId',
    })

    const internal = toGraphQLError(new GraphQLError('boom', { originalError: new Error('secret /var/lib/x') }))
    expect(internal.masked).toBe(true)
    expect(internal.error.message).not.toContain('secret')
    expect(internal.error.extensions.code).toBe('INTERNAL')
    const corrupted = toGraphQLError(new ShiiooError('DATA_CORRUPTED', 'blob ab.. at /data/blobs'))
    expect(corrupted).toMatchObject({ masked: true, error: { extensions: { code: 'DATA_CORRUPTED' } } })
    expect(corrupted.error.message).not.toContain('/data')
  })

  it('maps every error code', () => {
    expect(Object.keys(GRAPHQL_ERRORS).sort()).toEqual([...ERROR_CODES].sort())
    for (const code of ERROR_CODES) {
      const { error } = toGraphQLError(new ShiiooError(code, 'why'))
      expect(error.extensions.code).toBe(code satisfies ErrorCode)
    }
  })

  it('stops a subscription at once when the client leaves, even while it waits for an event', async () => {
    const o = await openStack()
    const api = createGraphQL(o)
    const stream = (await subscribe({
      schema: api.schema,
      document: parse('subscription { runUpdates { position event { type } } }'),
      contextValue: api.context(alice),
    })) as AsyncGenerator<ExecutionResult<Data>>
    const next = stream.next()
    const { runId } = await o.runs.start(alice, { source: { definition: echo } })
    expect((await next).value.data.runUpdates.event.type).toBe('run.started')
    await o.runs.wait(alice, runId)
    const pending = stream.next()
    // the run has ended: nothing more comes, so only return() can end this wait
    let n = 0
    for (let r = await pending; !r.done && n < 100; r = await stream.next()) {
      n++
      if (r.value.data.runUpdates.event.type === 'run.completed') break
    }
    const waiting = stream.next()
    await stream.return(undefined)
    expect(await waiting).toEqual({ done: true, value: undefined })
  })
})

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('timed out')
}
