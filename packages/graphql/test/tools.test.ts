import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TenantId } from '@shiioo/core'
import { FsBlobStore, Projector, openFsEventLog } from '@shiioo/core'
import type { CallerContext, Orchestrator } from '@shiioo/orchestrator'
import { CONTROL_PROJECTIONS, createOrchestrator, localCaller } from '@shiioo/orchestrator'
import { openSqliteIndex } from '@shiioo/store-sqlite'
import type { ExecutionResult } from 'graphql'
import { graphql } from 'graphql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGraphQL, toGraphQLError } from '../src/index.js'

const EXAMPLES = fileURLToPath(new URL('../../../examples/workflows/', import.meta.url))
const UNKNOWN_RUN = 'run_01JH0000000000000000000000'
const alice = localCaller('alice')
const vera: CallerContext = { tenant: alice.tenant, actor: { kind: 'user', id: 'vera' }, roles: ['viewer'] }
const mallory = localCaller('mallory', 'acme' as TenantId)

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- data is checked by the expectations
type Data = any

let dir: string
let o: Orchestrator
let close: () => Promise<void>

/** One orchestrator on a temp data dir for the file: the tool calls below add to one audit chain. */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shiioo-graphql-tools-'))
  const log = openFsEventLog({ dataDir: dir })
  const index = openSqliteIndex({ path: join(dir, 'index.sqlite') })
  o = createOrchestrator({
    log,
    blobs: new FsBlobStore({ dataDir: dir }),
    index,
    projector: new Projector({ log, index, projections: CONTROL_PROJECTIONS }),
  })
  close = async () => {
    await o.close()
    await index.close()
    await log.close()
  }
})
afterAll(async () => {
  await close()
  await rm(dir, { recursive: true, force: true })
})

async function as(caller: CallerContext, source: string, variableValues: Record<string, unknown> = {}) {
  const api = createGraphQL(o)
  const result = await graphql({ schema: api.schema, source, variableValues, contextValue: api.context(caller) })
  return result as ExecutionResult<Data>
}

const errorOf = (r: ExecutionResult) => toGraphQLError(r.errors?.[0]).error
const CALL = `mutation($name: String!, $input: JSON!, $key: String) {
  callTool(name: $name, input: $input, idempotencyKey: $key) { tool output }
}`

describe('tools over GraphQL', () => {
  it("lists the caller's tools and reads one; one it may not call is NOT_FOUND as an unknown one", async () => {
    const all = await as(alice, '{ tools { name title source annotations { readOnly openWorld } inputSchema } }')
    expect(all.errors).toBeUndefined()
    const tools = all.data.tools as Array<{ name: string }>
    expect(tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['core.echo', 'http.fetch', 'shiioo.runs.get', 'shiioo.runs.start']),
    )
    expect(tools.find((t) => t.name === 'http.fetch')).toMatchObject({
      source: 'builtin',
      annotations: { readOnly: false, openWorld: true },
      inputSchema: { type: 'object' },
    })
    // a viewer sees what the service grants it: Shiioo's own tools that read, no built-in one
    const seen = await as(vera, '{ tools { name } }')
    const granted = (await o.tools.list(vera)).map((t) => ({ name: t.name }))
    expect(seen.data.tools).toEqual(granted)
    expect(granted.length).toBeGreaterThan(0)
    expect(granted.map((t) => t.name)).not.toContain('core.echo')

    const one = await as(vera, '{ tool(name: "shiioo.runs.get") { name title description source } }')
    expect(one.data.tool).toMatchObject({ name: 'shiioo.runs.get', source: 'shiioo' })
    const hidden = await as(vera, '{ tool(name: "http.fetch") { name } }')
    const none = await as(vera, '{ tool(name: "http.fetcx") { name } }')
    expect(errorOf(hidden).extensions.code).toBe('NOT_FOUND')
    expect(errorOf(hidden).message.replace('fetch', 'fetcx')).toBe(errorOf(none).message)
    expect(hidden.data).toEqual({ tool: null })
  })

  it('calls a tool and answers { tool, output }; the same idempotency key starts one run', async () => {
    expect((await as(alice, CALL, { name: 'core.echo', input: { a: [1, 'b'] } })).data.callTool).toEqual({
      tool: 'core.echo',
      output: { a: [1, 'b'] },
    })
    await o.workflows.register(alice, {
      text: await readFile(join(EXAMPLES, 'approval-gate.yaml'), 'utf8'),
      format: 'yaml',
    })
    const start = {
      name: 'shiioo.runs.start',
      input: { workflow: 'approval-gate', input: { version: '1' } },
      key: 'k1',
    }
    const first = await as(alice, CALL, start)
    expect(first.errors).toBeUndefined()
    const again = await as(alice, CALL, start)
    expect(again.data.callTool.output).toMatchObject({ runId: first.data.callTool.output.runId, duplicate: true })
    const runId = first.data.callTool.output.runId as string

    const read = await as(vera, CALL, { name: 'shiioo.runs.get', input: { runId } })
    expect(read.data.callTool).toMatchObject({ tool: 'shiioo.runs.get', output: { runId, status: 'running' } })
    // another tenant's run is answered exactly as a run that does not exist
    const theirs = await as(mallory, CALL, { name: 'shiioo.runs.get', input: { runId } })
    const unknown = await as(mallory, CALL, { name: 'shiioo.runs.get', input: { runId: UNKNOWN_RUN } })
    expect(errorOf(theirs).extensions.code).toBe('NOT_FOUND')
    expect(JSON.stringify(theirs).replaceAll(runId, UNKNOWN_RUN)).toBe(JSON.stringify(unknown))
    await o.runs.cancel(alice, runId)
  })

  it('maps refusals: bad input naming the field, an unknown tool, a tool not granted; each call audited', async () => {
    const bad = await as(alice, CALL, { name: 'shiioo.runs.get', input: { runId: 'nope' } })
    expect(errorOf(bad).extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'input.runId' })
    const notObject = await as(alice, CALL, { name: 'core.echo', input: [1, 2] })
    expect(errorOf(notObject).extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'input' })
    const key = await as(alice, CALL, { name: 'core.echo', input: {}, key: '' })
    expect(errorOf(key).extensions).toMatchObject({ code: 'INVALID_INPUT', field: 'idempotencyKey' })
    const unknown = await as(alice, CALL, { name: 'core.ecko', input: {} })
    expect(errorOf(unknown).extensions.code).toBe('NOT_FOUND')
    expect(errorOf(unknown).message).toContain('did you mean core.echo?')
    const denied = await as(vera, CALL, { name: 'http.fetch', input: { url: 'https://example.com/' } })
    expect(errorOf(denied).extensions.code).toBe('FORBIDDEN')
    expect(denied.data).toEqual({ callTool: null })

    const audit = await o.audit.list(alice, { action: 'tool.invoke' })
    const outcomes = audit.items.map((e) => [
      e.actor.id,
      e.subject.id,
      e.outcome.status === 'ok' ? 'ok' : e.outcome.code,
    ])
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ['vera', 'http.fetch', 'FORBIDDEN'],
        ['local:alice', 'core.ecko', 'NOT_FOUND'],
        ['local:alice', 'core.echo', 'INVALID_INPUT'],
        ['local:alice', 'shiioo.runs.get', 'INVALID_INPUT'],
        ['vera', 'shiioo.runs.get', 'ok'],
        ['local:alice', 'shiioo.runs.start', 'ok'],
        ['local:alice', 'core.echo', 'ok'],
      ]),
    )
    expect((await o.audit.list(mallory, { action: 'tool.invoke' })).items).toHaveLength(2)
  })
})
