import { afterEach, describe, expect, it } from 'vitest'
import { ShiiooError, hashAuditEntry } from '@shiioo/core'
import type { AuditEntryView, CallerContext, Gate } from '../src/index.js'
import { admit, localCaller } from '../src/index.js'
import { eventOf, example, testStacks, waitsForApproval } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const alice: CallerContext = localCaller('alice')
const bob: CallerContext = localCaller('bob')
const echo = { definition: { name: 'echo', steps: [{ id: 'say', kind: 'tool', tool: 'core.echo' }] } }
const MISSING = 'run_01ARZ3NDEKTSV4RRFFQ69G5FAV'

/** The whole chain, oldest first (the listing is newest first). */
async function chain(o: {
  audit: { list(c: CallerContext, r: { limit: number }): Promise<{ items: AuditEntryView[] }> }
}) {
  return (await o.audit.list(alice, { limit: 1000 })).items.reverse()
}
const brief = (e: AuditEntryView) => [e.action, e.actor.id, e.outcome.status]

describe('the audit of service calls', () => {
  it('records each change with its outcome and what it made, and no read', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const started = await o.runs.start(alice, { source: echo })
    await o.runs.wait(alice, started.runId)
    await expect(o.runs.cancel(alice, MISSING, 'stop')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await o.workflows.register(alice, echo)
    expect((await o.runs.resumeAll(alice)).resumed).toEqual([]) // changed nothing: not recorded
    // reads are not recorded
    await o.runs.list(alice)
    await o.runs.get(alice, started.runId)
    await o.runs.events(alice, started.runId)
    await o.runs.replay(alice, started.runId)
    await o.workflows.list(alice)
    await o.data.verify(alice)
    await o.audit.verify(alice)
    const entries = await chain(o)
    // the run's tool call is audited as the run's agent, with its digest and idempotency key
    const tool = entries.find((e) => e.action === 'tool.invoke')
    expect(tool).toMatchObject({
      actor: { kind: 'agent', id: `${started.runId}/say` },
      subject: { kind: 'tool', id: 'core.echo' },
      outcome: { status: 'ok' },
      details: {
        runId: started.runId,
        stepId: 'say',
        attempt: 1,
        idempotencyKey: `${started.runId}:say:1`,
        input: expect.stringMatching(/^[0-9a-f]{16}$/) as string,
      },
    })
    entries.splice(entries.indexOf(tool!), 1)
    expect(entries.map(brief)).toEqual([
      ['run.start', 'local:alice', 'ok'],
      ['run.drive', 'local:alice', 'ok'],
      ['run.cancel', 'local:alice', 'error'],
      ['workflow.register', 'local:alice', 'ok'],
    ])
    expect(entries[0]).toMatchObject({
      seq: 1,
      tenant: 'default',
      actor: { kind: 'user', id: 'local:alice' },
      subject: { kind: 'workflow', id: 'echo' },
      details: { runId: started.runId, workflowHash: started.workflow.hash, duplicate: false },
    })
    expect(entries[1]).toMatchObject({ subject: { kind: 'run', id: started.runId }, details: { status: 'completed' } })
    expect(entries[2]).toMatchObject({
      subject: { kind: 'run', id: MISSING },
      outcome: { status: 'error', code: 'NOT_FOUND', message: expect.stringContaining(MISSING) },
      details: { reason: 'stop' },
    })
    expect(entries[3]).toMatchObject({ details: { changed: false } })
    for (const e of entries) expect(e.hash).toBe(hashAuditEntry(e))
    expect(await o.audit.verify(alice)).toEqual({
      tenant: 'default',
      ok: true,
      entries: 5,
      head: { seq: 5, hash: entries[3]!.hash },
      firstBad: null,
    })
  })

  it('records every approval decision: who, which step, what, and the comment', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const { runId } = await o.runs.start(alice, { source: await example('approval-gate'), input: { version: '1.2' } })
    await eventOf(o, alice, runId, waitsForApproval)
    await o.runs.decide(bob, runId, { stepId: 'review', decision: 'approve', comment: 'ship it' })
    await expect(o.runs.decide(bob, runId, { stepId: 'review', decision: 'reject' })).rejects.toMatchObject({
      code: 'CONFLICT',
    })
    const decisions = (await o.audit.list(alice, { action: 'run.decide' })).items.reverse()
    expect(decisions).toMatchObject([
      {
        actor: bob.actor,
        subject: { kind: 'run', id: runId },
        outcome: { status: 'ok' },
        details: { stepId: 'review', decision: 'approve', comment: 'ship it', status: expect.any(String) },
      },
      {
        actor: bob.actor,
        outcome: { status: 'error', code: 'CONFLICT' },
        details: { stepId: 'review', decision: 'reject' },
      },
    ])
  })

  it('records what the gate refuses, reads included, with the code it refused with', async () => {
    // bob may read but not change anything
    const gate: Gate = (caller, action, resource) => {
      admit(caller, action, resource)
      if (caller.actor.id === 'local:bob' && !['audit.list', 'run.list'].includes(action)) {
        throw new ShiiooError('FORBIDDEN', `bob may not ${action}`)
      }
    }
    const { orchestrator: o } = stacks.open(await stacks.tempDir(), { gate })
    const { runId } = await o.runs.start(alice, { source: echo })
    await expect(o.runs.cancel(bob, runId)).rejects.toMatchObject({ code: 'FORBIDDEN' })
    await expect(o.runs.get(bob, runId)).rejects.toMatchObject({ code: 'FORBIDDEN' })
    expect(() => o.runs.follow(bob, runId, () => {})).toThrow(/bob may not run.read/)
    await o.runs.list(bob) // let in: a read, not recorded
    const refused = (await o.audit.list(bob)).items.filter((e) => e.actor.id === 'local:bob').reverse()
    expect(refused.map((e) => [e.action, e.subject, e.outcome])).toEqual([
      [
        'run.cancel',
        { kind: 'run', id: runId },
        { status: 'denied', code: 'FORBIDDEN', message: 'bob may not run.cancel' },
      ],
      [
        'run.read',
        { kind: 'run', id: runId },
        { status: 'denied', code: 'FORBIDDEN', message: 'bob may not run.read' },
      ],
      [
        'run.read',
        { kind: 'run', id: runId },
        { status: 'denied', code: 'FORBIDDEN', message: 'bob may not run.read' },
      ],
    ])
    // a malformed caller names no tenant: refused, and nothing to record it in
    const nobody = { ...bob, actor: { kind: 'user' as const, id: '' } }
    await expect(o.runs.cancel(nobody, runId)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    // the start and bob's three refusals (and the run's tool call, if it got that far)
    const all = (await o.audit.list(alice, { limit: 100 })).items
    expect(all.filter((e) => e.action !== 'tool.invoke')).toHaveLength(4)
    expect((await o.audit.verify(alice)).entries).toBe(all.length)
  })

  it('lists with filters, newest first, in pages; bad filters name the field', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    for (let i = 0; i < 3; i++) await o.workflows.register(alice, echo)
    await o.workflows.register(bob, echo)
    const page1 = await o.audit.list(alice, { action: 'workflow.register', limit: 2 })
    expect(page1.items.map((e) => e.seq)).toEqual([4, 3])
    expect(page1.nextBefore).toBe(3)
    const page2 = await o.audit.list(alice, { action: 'workflow.register', limit: 2, before: page1.nextBefore! })
    expect(page2).toMatchObject({ items: [{ seq: 2 }, { seq: 1 }], nextBefore: null })
    expect((await o.audit.list(alice, { actor: 'local:bob' })).items.map((e) => e.seq)).toEqual([4])
    expect((await o.audit.list(alice, { since: '2999-01-01' })).items).toEqual([])
    expect((await o.audit.list(alice, { since: '2000-01-01T00:00:00Z' })).items).toHaveLength(4)
    expect((await o.audit.list(alice, { action: 'run.start' })).items).toEqual([])
    for (const [request, field] of [
      [{ action: 'Start' }, 'action'],
      [{ since: 'yesterday' }, 'since'],
      [{ limit: 0 }, 'limit'],
      [{ before: -1 }, 'before'],
    ] as const) {
      await expect(o.audit.list(alice, request), field).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        details: { field },
      })
    }
    const exported: AuditEntryView[] = []
    for await (const e of await o.audit.export(alice)) exported.push(e)
    expect(exported.map((e) => e.seq)).toEqual([1, 2, 3, 4])
    expect(JSON.stringify(exported[0])).toMatch(/^\{"seq":1,"at":"[^"]+","tenant":"default","actor":/)
  })

  it('keeps one chain per tenant', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const acme = localCaller('alice', 'acme' as CallerContext['tenant'])
    await o.workflows.register(alice, echo)
    await o.workflows.register(acme, echo)
    await o.workflows.register(acme, echo)
    expect((await o.audit.verify(alice)).entries).toBe(1)
    expect(await o.audit.verify(acme)).toMatchObject({ tenant: 'acme', entries: 2, ok: true })
    expect((await o.audit.list(acme)).items.every((e) => e.tenant === 'acme')).toBe(true)
  })
})
