import type { Json, TenantId } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import { describe, expect, it } from 'vitest'
import { createToolCatalog } from '../../catalog/catalog.js'
import type { Permits, ToolCaller } from '../../catalog/types.js'
import type { ShiiooRun, ShiiooToolPort } from './port.js'
import { shiiooToolSource } from './source.js'

const RUN = 'run_01JQ3Z8R5B2Y7XKZ4M6N9P0S1T'
const HASH = 'ab'.repeat(32)
const caller: ToolCaller = { tenant: 'default' as TenantId, actor: 'user:ana', roles: ['admin'] }

const run: ShiiooRun = {
  runId: RUN,
  tenant: 'default',
  workflow: { name: 'approval-gate', hash: HASH },
  status: 'running',
  startedAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:01.000Z',
  endedAt: null,
  lastSeq: 4,
}

/** A port that records each call (method, caller, arguments) and answers canned views. */
function fakePort() {
  const calls: Array<{ method: string; caller: ToolCaller; args: unknown[] }> = []
  const record =
    <T>(method: string, answer: T) =>
    async (c: ToolCaller, ...args: unknown[]): Promise<T> => {
      calls.push({ method, caller: c, args })
      return answer
    }
  const port: ShiiooToolPort = {
    getRun: record('getRun', run),
    runEvents: record('runEvents', { events: [], nextAfterSeq: null }),
    runState: record('runState', { ...run, asOf: { seq: 2, at: run.startedAt } }),
    searchRuns: record('searchRuns', { items: [run], nextCursor: null }),
    getBlob: record('getBlob', ['a', 'value'] as Json),
    listWorkflows: record('listWorkflows', [{ name: 'approval-gate', hash: HASH, versions: [] }]),
    startRun: record('startRun', { runId: RUN, workflow: run.workflow, duplicate: false, warnings: [] }),
    cancelRun: record('cancelRun', { ...run, status: 'cancelled' }),
    pendingApprovals: record('pendingApprovals', { items: [], nextCursor: null }),
    decideApproval: record('decideApproval', run),
  }
  return { port, calls }
}

const REQUIRES: Record<string, string> = {
  'shiioo.approvals.decide': 'run.decide',
  'shiioo.approvals.pending': 'approval.list',
  'shiioo.blobs.get': 'run.read',
  'shiioo.runs.cancel': 'run.cancel',
  'shiioo.runs.events': 'run.read',
  'shiioo.runs.get': 'run.read',
  'shiioo.runs.search': 'run.list',
  'shiioo.runs.start': 'run.start',
  'shiioo.runs.state': 'run.read',
  'shiioo.workflows.list': 'workflow.list',
}

/** Grants by role, like the built-in roles do for these actions. */
const GRANTS: Record<string, readonly string[]> = {
  viewer: ['run.read', 'run.list', 'workflow.list'],
  approver: ['run.read', 'run.list', 'approval.list', 'run.decide'],
}
const permits: Permits = (c, action) => c.roles.includes('admin') || c.roles.some((r) => GRANTS[r]?.includes(action))

async function catalogOf() {
  const { port, calls } = fakePort()
  const catalog = await createToolCatalog({ sources: [shiiooToolSource(port)], permits })
  const call = (name: string, input: Json, as: ToolCaller = caller, idempotencyKey = 'mcp:call-1') =>
    catalog.call(name, input, { caller: as, signal: new AbortController().signal, idempotencyKey })
  return { catalog, calls, call }
}

describe('shiiooToolSource', () => {
  it('offers the ten tools, each requiring the service action it performs, reads marked read-only', () => {
    const source = shiiooToolSource(fakePort().port)
    expect(source.id).toBe('shiioo')
    const tools = source.tools()
    expect(Object.fromEntries(tools.map((t) => [t.name, t.requires]))).toEqual(REQUIRES)
    for (const tool of tools) {
      const reads = ['run.read', 'run.list', 'workflow.list', 'approval.list'].includes(tool.requires)
      expect(tool.annotations.readOnly, tool.name).toBe(reads)
      expect(tool.annotations.openWorld, tool.name).toBe(false)
      expect(tool.inputSchema.additionalProperties, tool.name).toBe(false)
      expect(tool.description.length, tool.name).toBeGreaterThan(80)
    }
    const byName = new Map(tools.map((t) => [t.name, t]))
    expect(byName.get('shiioo.runs.start')!.annotations).toMatchObject({ destructive: false, idempotent: false })
    expect(byName.get('shiioo.runs.cancel')!.annotations).toMatchObject({ destructive: true, idempotent: true })
    expect(byName.get('shiioo.approvals.decide')!.annotations).toMatchObject({ destructive: false, idempotent: true })
  })

  it('lists to each caller only the tools its grants allow, and refuses the others by action', async () => {
    const { catalog, call, calls } = await catalogOf()
    const as = (role: string): ToolCaller => ({ ...caller, actor: `user:${role}`, roles: [role] })
    expect(catalog.list(caller)).toHaveLength(10)
    const granted = (role: string) => Object.keys(REQUIRES).filter((name) => GRANTS[role]!.includes(REQUIRES[name]!))
    expect(catalog.list(as('viewer')).map((t) => t.name)).toEqual(granted('viewer'))
    expect(granted('viewer')).toHaveLength(6)
    expect(catalog.list(as('approver')).map((t) => t.name)).toEqual([
      'shiioo.approvals.decide',
      'shiioo.approvals.pending',
      'shiioo.blobs.get',
      'shiioo.runs.events',
      'shiioo.runs.get',
      'shiioo.runs.search',
      'shiioo.runs.state',
    ])
    expect(catalog.list(as('nobody'))).toEqual([])
    await expect(call('shiioo.runs.start', { workflow: 'w' }, as('viewer'))).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { tool: 'shiioo.runs.start', action: 'run.start' },
    })
    await expect(
      call('shiioo.approvals.decide', { runId: RUN, stepId: 'review', decision: 'approve' }, as('viewer')),
    ).rejects.toMatchObject({ code: 'FORBIDDEN', details: { action: 'run.decide' } })
    expect(calls).toEqual([])
  })

  it.each([
    ['shiioo.runs.get', {}, 'input.runId: is required'],
    ['shiioo.runs.get', { runId: 'run_123' }, 'input.runId: must match pattern'],
    ['shiioo.runs.get', { runId: RUN.toLowerCase() }, 'input.runId: must match pattern'],
    ['shiioo.runs.get', { runId: `${RUN.slice(0, -1)}U` }, 'input.runId: must match pattern'],
    ['shiioo.runs.get', { runId: `../${RUN}` }, 'input.runId: must match pattern'],
    ['shiioo.runs.get', { runId: RUN, tenant: 'acme' }, 'input.tenant: is not an accepted field'],
    ['shiioo.runs.events', { runId: RUN, limit: 0 }, 'input.limit: must be >= 1'],
    ['shiioo.runs.events', { runId: RUN, limit: 1001 }, 'input.limit: must be <= 1000'],
    ['shiioo.runs.events', { runId: RUN, afterSeq: -1 }, 'input.afterSeq: must be >= 0'],
    ['shiioo.runs.events', { runId: RUN, afterSeq: 1.5 }, 'input.afterSeq: must be integer'],
    ['shiioo.runs.state', { runId: RUN }, 'input.seq: is required'],
    ['shiioo.runs.state', { runId: RUN, seq: 0 }, 'input.seq: must be >= 1'],
    ['shiioo.runs.search', { limit: 501 }, 'input.limit: must be <= 500'],
    ['shiioo.runs.search', { status: 'waiting' }, 'input.status: must be equal to one of the allowed values'],
    ['shiioo.runs.search', { workflow: 'Approval Gate' }, 'input.workflow: must match pattern'],
    ['shiioo.runs.search', { cursor: '' }, 'input.cursor: must NOT have fewer than 1 characters'],
    ['shiioo.blobs.get', { runId: RUN, hash: HASH.toUpperCase() }, 'input.hash: must match pattern'],
    ['shiioo.blobs.get', { runId: RUN, hash: HASH.slice(1) }, 'input.hash: must match pattern'],
    ['shiioo.workflows.list', { all: true }, 'input.all: is not an accepted field'],
    ['shiioo.runs.start', {}, 'input.workflow: is required'],
    ['shiioo.runs.start', { workflow: '../etc' }, 'input.workflow: must match pattern'],
    ['shiioo.runs.start', { workflow: 'w', input: [1] }, 'input.input: must be object'],
    [
      'shiioo.runs.start',
      { workflow: 'w', idempotencyKey: 'k'.repeat(201) },
      'input.idempotencyKey: must NOT have more',
    ],
    ['shiioo.runs.cancel', { runId: RUN, reason: 'r'.repeat(1001) }, 'input.reason: must NOT have more'],
    ['shiioo.approvals.pending', { limit: 0 }, 'input.limit: must be >= 1'],
    ['shiioo.approvals.decide', { runId: RUN, stepId: 'review' }, 'input.decision: is required'],
    ['shiioo.approvals.decide', { runId: RUN, stepId: 'review', decision: 'yes' }, 'input.decision: must be equal'],
    ['shiioo.approvals.decide', { runId: RUN, stepId: '1st', decision: 'approve' }, 'input.stepId: must match'],
    ['shiioo.approvals.decide', { runId: RUN, stepId: 's', item: -1, decision: 'approve' }, 'input.item: must be >='],
  ])('%s refuses %j before the port is called', async (name, input, message) => {
    const { call, calls } = await catalogOf()
    await expect(call(name, input as Json)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining(`${name}: ${message}`),
    })
    expect(calls).toEqual([])
  })

  it('hands each call to the port as the caller, with defaults filled in, and shapes lists as objects', async () => {
    const { call, calls } = await catalogOf()
    expect(await call('shiioo.runs.get', { runId: RUN })).toEqual(run)
    await call('shiioo.runs.events', { runId: RUN })
    await call('shiioo.runs.events', { runId: RUN, afterSeq: 7, limit: 1000 })
    expect(await call('shiioo.runs.state', { runId: RUN, seq: 2 })).toMatchObject({ asOf: { seq: 2 } })
    await call('shiioo.runs.search', { status: 'failed', workflow: 'approval-gate', limit: 5, cursor: 'abc' })
    expect(await call('shiioo.blobs.get', { runId: RUN, hash: HASH })).toEqual({
      runId: RUN,
      blob: HASH,
      value: ['a', 'value'],
    })
    expect(await call('shiioo.workflows.list', {})).toEqual({
      workflows: [{ name: 'approval-gate', hash: HASH, versions: [] }],
    })
    await call('shiioo.runs.cancel', { runId: RUN, reason: 'superseded' })
    await call('shiioo.approvals.pending', { workflow: 'approval-gate' })
    await call('shiioo.approvals.decide', { runId: RUN, stepId: 'review', item: 2, decision: 'reject', comment: 'no' })
    expect(calls.every((c) => c.caller === caller)).toBe(true)
    expect(calls.map((c) => [c.method, ...c.args])).toEqual([
      ['getRun', RUN],
      ['runEvents', RUN, { afterSeq: 0, limit: 100 }],
      ['runEvents', RUN, { afterSeq: 7, limit: 1000 }],
      ['runState', RUN, 2],
      ['searchRuns', { status: 'failed', workflow: 'approval-gate', limit: 5, cursor: 'abc' }],
      ['getBlob', RUN, HASH],
      ['listWorkflows'],
      ['cancelRun', RUN, 'superseded'],
      ['pendingApprovals', { workflow: 'approval-gate' }],
      ['decideApproval', { runId: RUN, stepId: 'review', item: 2, decision: 'reject', comment: 'no' }],
    ])
  })

  it("starts with the caller's idempotency key, else one derived from the call's own", async () => {
    const { call, calls } = await catalogOf()
    await call('shiioo.runs.start', { workflow: 'approval-gate', input: { version: '1' }, idempotencyKey: 'release-1' })
    await call('shiioo.runs.start', { workflow: 'approval-gate' }, caller, 'mcp:retry-me')
    await call('shiioo.runs.start', { workflow: 'approval-gate' }, caller, 'x'.repeat(300))
    expect(calls.map((c) => c.args[0])).toEqual([
      { workflow: 'approval-gate', input: { version: '1' }, idempotencyKey: 'release-1' },
      { workflow: 'approval-gate', idempotencyKey: 'tool:mcp:retry-me' },
      { workflow: 'approval-gate', idempotencyKey: expect.stringMatching(/^tool:[0-9a-f]{64}$/) },
    ])
  })

  it("passes the port's errors through as they are", async () => {
    const { port } = fakePort()
    port.getRun = async () => {
      throw new ShiiooError('NOT_FOUND', `no run ${RUN} in tenant default`)
    }
    const catalog = await createToolCatalog({ sources: [shiiooToolSource(port)], permits })
    const context = { caller, signal: new AbortController().signal, idempotencyKey: 'k' }
    await expect(catalog.call('shiioo.runs.get', { runId: RUN }, context)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: `no run ${RUN} in tenant default`,
    })
  })
})
