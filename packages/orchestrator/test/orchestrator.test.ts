import { afterEach, describe, expect, it } from 'vitest'
import type { TenantId } from '@shiioo/core'
import { DEFAULT_TENANT } from '@shiioo/core'
import type { CallerContext, RunView, StepView, WorkflowSource } from '../src/index.js'
import { localCaller } from '../src/index.js'
import { eventOf, example, testStacks, waitsForApproval } from './stack.js'
import type { Opened } from './stack.js'

const alice: CallerContext = localCaller('alice')
const stacks = testStacks()
afterEach(() => stacks.cleanup())
const tempDir = () => stacks.tempDir()
const open = (dir: string): Opened => stacks.open(dir)

/** The step of a run view, or undefined when the view does not list it. */
function step(run: RunView, stepId: string): StepView | undefined {
  return run.steps.find((s) => s.stepId === stepId)
}

describe('createOrchestrator', () => {
  it('starts a run from YAML, drives it to the end, and lists and shows it from the index', async () => {
    const { orchestrator: o } = open(await tempDir())
    const started = await o.runs.start(alice, {
      source: await example('linear-agent-pipeline'),
      input: { topic: 'durable agents' },
    })
    expect(started).toMatchObject({ workflow: { name: 'linear-agent-pipeline' }, duplicate: false, warnings: [] })
    const end = await o.runs.wait(alice, started.runId)
    expect(end.status).toBe('completed')

    const page = await o.runs.list(alice, { status: 'completed' })
    expect(page.items.map((r) => [r.runId, r.workflow.name, r.status])).toEqual([
      [started.runId, 'linear-agent-pipeline', 'completed'],
    ])
    expect((await o.runs.list(alice, { status: 'running' })).items).toEqual([])

    expect(end.output).toMatchObject({ topic: 'durable agents', brief: expect.stringContaining('stand-in') })
    const details = await o.runs.get(alice, started.runId)
    expect(details).toMatchObject({
      status: 'completed',
      reason: 'all steps completed',
      definitionStored: true,
      stepsFrom: 'definition',
      output: { inline: end.output },
    })
    expect(details.steps.map((s) => [s.stepId, s.kind, s.status, s.attempts])).toEqual([
      ['research', 'agent', 'completed', 1],
      ['draft', 'agent', 'completed', 1],
      ['edit', 'agent', 'completed', 1],
      ['package', 'transform', 'completed', 1],
    ])
    expect(details.lastSeq).toBe((await o.runs.events(alice, started.runId)).length)
    const first = (await o.runs.events(alice, started.runId))[0]!
    expect(first).toMatchObject({ type: 'run.started', actor: alice.actor })
  })

  it('refuses an invalid definition (every problem, with its line) or input, writing nothing', async () => {
    const { orchestrator: o, log } = open(await tempDir())
    const text = 'name: bad\nsteps:\n  - id: a\n    kind: agent\n    prompt: hi\n    needs: [b]\n'
    const error = await o.runs.start(alice, { source: { text, origin: 'bad.yaml' } }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'INVALID_INPUT' })
    const message = (error as Error).message
    expect(message).toContain('invalid workflow bad.yaml (2 problems)')
    expect(message).toContain('steps[0].needs[0] (line 6, column 13)')
    expect(message).toContain('missing required field "role"')
    const noTopic = o.runs.start(alice, { source: await example('linear-agent-pipeline'), input: { audience: 1 } })
    await expect(noTopic).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('input "topic" is required'),
    })
    // nothing written but the audit entry of the refused start (the first failed before naming its workflow)
    const streams: string[] = []
    for await (const s of log.listStreams()) streams.push(s.stream)
    expect(streams).toEqual(['audit'])
    expect((await o.audit.list(alice)).items).toMatchObject([
      { action: 'run.start', subject: { id: 'linear-agent-pipeline' }, outcome: { code: 'INVALID_INPUT' } },
    ])
  })

  it('waits at an approval until decide, recording who decided', async () => {
    const { orchestrator: o } = open(await tempDir())
    const { runId } = await o.runs.start(alice, { source: await example('approval-gate'), input: { version: '1.2' } })
    await eventOf(o, alice, runId, waitsForApproval)
    expect(step(await o.runs.get(alice, runId), 'review')).toMatchObject({
      status: 'waiting',
      wait: { for: 'approval', until: null, event: null, childRunId: null },
    })
    const bob = localCaller('bob')
    await o.runs.decide(bob, runId, { stepId: 'review', decision: 'approve', comment: 'ship it' })
    const end = await o.runs.wait(alice, runId)
    expect(end.status).toBe('completed')
    expect((await o.runs.get(alice, runId)).decisions).toEqual([
      {
        stepId: 'review',
        item: null,
        decision: 'approve',
        comment: 'ship it',
        actor: bob.actor,
        at: expect.any(String),
        seq: expect.any(Number),
      },
    ])
    await expect(o.runs.decide(bob, runId, { stepId: 'review', decision: 'reject' })).rejects.toMatchObject({
      code: 'CONFLICT',
    })
  })

  it('cancels, pauses and resumes runs; a finished run refuses signals', async () => {
    const { orchestrator: o } = open(await tempDir())
    const source = await example('approval-gate')
    const a = await o.runs.start(alice, { source, input: { version: 'a' } })
    await eventOf(o, alice, a.runId, waitsForApproval)
    expect((await o.runs.pause(alice, a.runId, 'hold')).status).toBe('paused')
    await expect(o.runs.pause(alice, a.runId)).rejects.toMatchObject({ code: 'CONFLICT' })
    expect((await o.runs.resumePaused(alice, a.runId)).status).toBe('running')
    await o.runs.cancel(alice, a.runId, 'changed my mind')
    const end = await o.runs.wait(alice, a.runId)
    expect(end).toMatchObject({ status: 'cancelled', cancelReason: 'changed my mind' })
    await expect(o.runs.cancel(alice, a.runId)).rejects.toMatchObject({ code: 'CONFLICT' })
    await expect(o.runs.signal(alice, a.runId, { name: 'deploy.done' })).rejects.toMatchObject({ code: 'CONFLICT' })
    expect((await o.runs.list(alice, { status: 'cancelled' })).items.map((r) => r.runId)).toEqual([a.runId])
  })

  it('resumeAll drives, after a restart, every run the index lists as running or paused', async () => {
    const dir = await tempDir()
    const first = open(dir)
    const source = await example('approval-gate')
    const waiting = await first.orchestrator.runs.start(alice, { source, input: { version: 'w' } })
    const paused = await first.orchestrator.runs.start(alice, { source, input: { version: 'p' } })
    await eventOf(first.orchestrator, alice, waiting.runId, waitsForApproval)
    await eventOf(first.orchestrator, alice, paused.runId, waitsForApproval)
    await first.orchestrator.runs.pause(alice, paused.runId)
    await first.close()

    const second = open(dir)
    const o = second.orchestrator
    // a decision recorded while no process drives the run is found when it resumes
    await o.runs.decide(alice, waiting.runId, { stepId: 'review', decision: 'approve' })
    const resumed = await o.runs.resumeAll(alice)
    expect(resumed.failed).toEqual([])
    expect(resumed.resumed.map((r) => r.runId).sort()).toEqual([waiting.runId, paused.runId].sort())
    expect(resumed.resumed.find((r) => r.runId === paused.runId)?.status).toBe('paused')
    expect((await o.runs.wait(alice, waiting.runId)).status).toBe('completed')
    await o.runs.resumePaused(alice, paused.runId)
    await o.runs.decide(alice, paused.runId, { stepId: 'review', decision: 'reject', comment: 'no' })
    expect((await o.runs.wait(alice, paused.runId)).status).toBe('failed')
    expect((await o.runs.resumeAll(alice)).resumed).toEqual([])
  })

  it('registers the other workflows first so a sub-workflow step finds its child, and refuses a run whose child is missing', async () => {
    const { orchestrator: o, log } = open(await tempDir())
    const parent = await example('subworkflow')
    const missing = await o.runs.start(alice, { source: parent }).catch((e: unknown) => e)
    expect(missing).toMatchObject({ code: 'INVALID_INPUT' })
    expect((missing as Error).message).toContain(
      'step "review" of workflow "subworkflow" runs workflow "subworkflow-child", which is not registered',
    )
    expect(await log.version({ tenant: DEFAULT_TENANT, stream: 'workflows' as never })).toBe(0)

    const broken: WorkflowSource = { text: 'name: broken\nsteps: []\n', origin: 'broken.yaml' }
    const started = await o.runs.start(alice, {
      source: parent,
      workflows: [await example('subworkflow-child'), broken],
    })
    expect(started.warnings).toEqual([expect.stringMatching(/^broken\.yaml left out: invalid workflow broken\.yaml/)])
    const end = await o.runs.wait(alice, started.runId)
    expect(end.status).toBe('completed')
    const child = step(await o.runs.get(alice, started.runId), 'review')?.wait?.childRunId
    expect(child).toMatch(/^run_/)
    expect((await o.runs.get(alice, child!)).parent).toEqual({ runId: started.runId, stepId: 'review', item: null })
    const workflows = await o.workflows.list(alice)
    expect(workflows.map((w) => w.name)).toEqual(['subworkflow', 'subworkflow-child'])
    expect(workflows[0]!.versions).toEqual([{ hash: workflows[0]!.hash, current: true }])
  })

  it('shows the state as of any event, and checks the seq', async () => {
    const { orchestrator: o } = open(await tempDir())
    const { runId } = await o.runs.start(alice, {
      source: await example('linear-agent-pipeline'),
      input: { topic: 't' },
    })
    await o.runs.wait(alice, runId)
    const { lastSeq } = await o.runs.get(alice, runId)
    const at3 = await o.runs.stateAt(alice, runId, 3)
    expect(at3).toMatchObject({ lastSeq: 3, status: 'running', stepsFrom: 'events', asOf: { seq: 3 } })
    expect(at3.steps.map((s) => [s.stepId, s.kind, s.status])).toEqual([['research', 'agent', 'completed']])
    expect((await o.runs.stateAt(alice, runId, lastSeq)).status).toBe('completed')
    for (const bad of [0, lastSeq + 1, 1.5]) {
      await expect(o.runs.stateAt(alice, runId, bad)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    }
    await expect(o.runs.get(alice, 'run_nope')).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(o.runs.get(alice, 'run_01ARZ3NDEKTSV4RRFFQ69G5FAV')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('replays a finished run without calls, and forks it from a step', async () => {
    const { orchestrator: o } = open(await tempDir())
    const { runId } = await o.runs.start(alice, {
      source: await example('linear-agent-pipeline'),
      input: { topic: 't' },
    })
    await o.runs.wait(alice, runId)
    expect(await o.runs.replay(alice, runId)).toMatchObject({ ok: true, mismatches: [], calls: 0 })
    const fork = await o.runs.fork(alice, runId, { fromStep: 'edit' })
    expect(fork.workflow.name).toBe('linear-agent-pipeline')
    expect((await o.runs.wait(alice, fork.runId)).status).toBe('completed')
    const forked = await o.runs.get(alice, fork.runId)
    expect(forked.forkOf).toEqual({ runId, fromStep: 'edit' })
    expect(step(forked, 'research')?.reusedFrom).toBe(runId)
    expect(step(forked, 'edit')?.reusedFrom).toBeNull()
  })

  it('takes an idempotency key and a definition object', async () => {
    const { orchestrator: o } = open(await tempDir())
    const definition = {
      name: 'echo',
      steps: [{ id: 'say', kind: 'tool', tool: 'core.echo', input: { a: 1 } }],
      output: '${{ steps.say.output }}',
    }
    const one = await o.runs.start(alice, { source: { definition }, idempotencyKey: 'k1' })
    const two = await o.runs.start(alice, { source: { definition }, idempotencyKey: 'k1' })
    expect(two).toMatchObject({ runId: one.runId, duplicate: true })
    expect((await o.runs.wait(alice, one.runId)).status).toBe('completed')
    expect((await o.runs.get(alice, one.runId)).output).toEqual({ inline: { a: 1 } })
  })

  it('checks the caller on every call', async () => {
    const { orchestrator: o } = open(await tempDir())
    const stranger = { tenant: 'Not A Tenant' as TenantId, actor: { kind: 'user' as const, id: 'x' }, roles: [] }
    await expect(o.runs.list(stranger)).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    await expect(o.workflows.list({ ...alice, actor: { kind: 'user', id: '' } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
  })
})
