import type { TenantId } from '@shiioo/core'
import { toShiiooError } from '@shiioo/core'
import type { ToolCallContext } from '@shiioo/mcp'
import { afterEach, describe, expect, it } from 'vitest'
import type { CallerContext } from '../src/index.js'
import { localCaller, mcpResourcesOf, mcpToolsOf, toolCallerOf } from '../src/index.js'
import { eventOf, example, testStacks, waitsForApproval } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const alice = localCaller('alice')
const admin = toolCallerOf(alice)
const viewer = toolCallerOf({ tenant: alice.tenant, actor: { kind: 'user', id: 'vera' }, roles: ['viewer'] })
const nobody = toolCallerOf({ tenant: alice.tenant, actor: { kind: 'user', id: 'nobody' }, roles: [] })
const acme = toolCallerOf(localCaller('alice', 'acme' as TenantId))
const signal = new AbortController().signal
const context = (caller: ToolCallContext['caller'], key: string): ToolCallContext => ({
  caller,
  signal,
  idempotencyKey: key,
})

async function failure(run: () => Promise<unknown>) {
  try {
    await run()
  } catch (err) {
    const { code, message } = toShiiooError(err)
    return { code, message }
  }
  throw new Error('it did not fail')
}

async function gateRun(o: Parameters<typeof mcpResourcesOf>[0], caller: CallerContext = alice) {
  await o.workflows.register(caller, await example('approval-gate'))
  const { definition } = await o.workflows.get(caller, 'approval-gate')
  return (await o.runs.start(caller, { source: { definition }, input: { version: '1.0' } })).runId
}

describe('mcpToolsOf: the tool service as an MCP session’s tools', () => {
  it('lists what the caller may use and audits every call as tool.invoke with its key', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const tools = mcpToolsOf(o.tools)
    const adminNames = (await tools.list(admin)).map((t) => t.name)
    expect(adminNames).toEqual(expect.arrayContaining(['core.echo', 'http.fetch', 'shiioo.runs.start']))
    const viewerNames = (await tools.list(viewer)).map((t) => t.name)
    expect(viewerNames).toContain('shiioo.runs.get')
    expect(viewerNames).not.toContain('http.fetch')
    expect(await tools.get(viewer, 'http.fetch')).toBeUndefined()
    expect(await tools.get(admin, 'http.fetch')).toMatchObject({ name: 'http.fetch' })
    // a caller that may see no tool at all is told a tool is unknown, as for one it may not see
    expect(await tools.get(nobody, 'core.echo')).toBeUndefined()

    expect(await tools.call('core.echo', { text: 'hi' }, context(admin, 'mcp:k1'))).toEqual({ text: 'hi' })
    expect(
      await failure(() => tools.call('http.fetch', { url: 'http://x/' }, context(viewer, 'mcp:k2'))),
    ).toMatchObject({
      code: 'FORBIDDEN',
    })
    const { items } = await o.audit.list(alice, { action: 'tool.invoke' })
    // the service scopes each key to the caller and the tool
    const keys = items.map((e) => e.details.idempotencyKey)
    expect(keys.every((k) => typeof k === 'string' && /^call:[0-9a-f]{64}$/.test(k))).toBe(true)
    expect(items.map((e) => [e.actor.id, e.subject.id, e.outcome.status])).toEqual([
      // the gate let tool.invoke in; the catalog refused the tool's own requirement: a denial
      ['vera', 'http.fetch', 'denied'],
      [alice.actor.id, 'core.echo', 'ok'],
    ])
  })
})

describe('mcpResourcesOf: runs, event logs and workflows as MCP resources', () => {
  it('lists and reads them as the caller', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const runId = await gateRun(o)
    const resources = mcpResourcesOf(o)
    const uris = (await resources.list(admin, { signal })).map((r) => r.uri)
    expect(uris).toEqual([
      `shiioo://runs/${runId}`,
      `shiioo://runs/${runId}/events`,
      'shiioo://workflows/approval-gate',
    ])
    const [run] = await resources.read(admin, `shiioo://runs/${runId}`, { signal })
    expect(run).toMatchObject({ mimeType: 'application/json' })
    expect(JSON.parse((run as { text: string }).text)).toMatchObject({ runId, workflow: { name: 'approval-gate' } })
    const [log] = await resources.read(admin, `shiioo://runs/${runId}/events`, { signal })
    const events = JSON.parse((log as { text: string }).text) as { runId: string; events: Array<{ seq: number }> }
    expect(events.runId).toBe(runId)
    expect(events.events[0]).toMatchObject({ seq: 1, type: 'run.started' })
    const [workflow] = await resources.read(viewer, 'shiioo://workflows/approval-gate', { signal })
    expect(JSON.parse((workflow as { text: string }).text)).toMatchObject({ name: 'approval-gate' })
    expect((await resources.templates!(admin, { signal })).map((t) => t.uriTemplate)).toEqual([
      'shiioo://runs/{runId}',
      'shiioo://runs/{runId}/events',
      'shiioo://workflows/{name}',
    ])
    // a role without workflow.list gets the runs it may list, not a failure
    const approver = toolCallerOf({ tenant: alice.tenant, actor: { kind: 'user', id: 'pat' }, roles: ['approver'] })
    expect((await resources.list(approver, { signal })).map((r) => r.uri)).toEqual(uris.slice(0, 2))
  })

  it("answers another tenant's run, an unknown one and a malformed URI alike: NOT_FOUND naming the URI", async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const runId = await gateRun(o)
    const unknown = runId.slice(0, -1) + (runId.endsWith('0') ? '1' : '0')
    const resources = mcpResourcesOf(o)
    for (const suffix of ['', '/events']) {
      const other = await failure(() => resources.read(acme, `shiioo://runs/${runId}${suffix}`, { signal }))
      const none = await failure(() => resources.read(acme, `shiioo://runs/${unknown}${suffix}`, { signal }))
      expect(other).toEqual({ code: 'NOT_FOUND', message: `Resource not found: shiioo://runs/${runId}${suffix}` })
      expect(none).toEqual({ code: 'NOT_FOUND', message: `Resource not found: shiioo://runs/${unknown}${suffix}` })
    }
    for (const uri of ['shiioo://runs/nope', 'shiioo://workflows/Bad Name', 'https://example.com/', 'shiioo://runs/']) {
      expect(await failure(() => resources.read(admin, uri, { signal }))).toEqual({
        code: 'NOT_FOUND',
        message: `Resource not found: ${uri}`,
      })
    }
    expect(await failure(() => resources.read(acme, 'shiioo://workflows/approval-gate', { signal }))).toMatchObject({
      code: 'NOT_FOUND',
    })
    expect(await resources.list(acme, { signal })).toEqual([])
  })

  it('watches a run: a change for each event after the watch began, until the signal aborts', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const runId = await gateRun(o)
    await eventOf(o, alice, runId, waitsForApproval)
    const resources = mcpResourcesOf(o)
    const stop = new AbortController()
    let changes = 0
    await resources.watch!(admin, `shiioo://runs/${runId}`, () => changes++, { signal: stop.signal })
    expect(changes).toBe(0)
    await o.runs.decide(alice, runId, { stepId: 'review', decision: 'approve' })
    await o.runs.wait(alice, runId)
    await expect.poll(() => changes, { timeout: 5000 }).toBeGreaterThan(0)
    stop.abort()
    expect(await failure(() => resources.watch!(acme, `shiioo://runs/${runId}`, () => {}, { signal }))).toMatchObject({
      code: 'NOT_FOUND',
    })
    expect(
      await failure(() => resources.watch!(admin, 'shiioo://workflows/approval-gate', () => {}, { signal })),
    ).toMatchObject({ code: 'INVALID_INPUT' })
  })
})
