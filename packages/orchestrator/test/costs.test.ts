import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChatRequest, ChatResponse, Provider } from '@shiioo/capacity'
import { CapacityPool } from '@shiioo/capacity'
import { FsBlobStore, Projector, openFsEventLog } from '@shiioo/core'
import { agentLoop, poolModel, toolInvoker } from '@shiioo/engine'
import { openSqliteIndex } from '@shiioo/store-sqlite'
import { afterEach, describe, expect, it } from 'vitest'
import { createOrchestrator, localCaller } from '../src/index.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Answers at once, with the same usage every time: 1000 tokens in, 100 out. */
const provider: Provider = {
  kind: 'fixed',
  chat: (r: ChatRequest): Promise<ChatResponse> =>
    Promise.resolve({
      text: 'done',
      toolCalls: [],
      stopReason: 'end',
      usage: { inputTokens: 1000, outputTokens: 100 },
      model: r.model,
    }),
}

describe('cost ledger', () => {
  it('aggregates every model call by role, source and step, live and after an index rebuild', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shiioo-costs-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const log = openFsEventLog({ dataDir: dir })
    const index = openSqliteIndex({ path: join(dir, 'index.sqlite') })
    const projector = new Projector({ log, index })
    const pool = new CapacityPool({
      sources: [
        { id: 'cheap', provider, models: ['small'], prices: { inputPer1M: 1, outputPer1M: 2 } },
        { id: 'smart', provider, models: ['large'], prices: { inputPer1M: 10, outputPer1M: 30 } },
      ],
    })
    const agents = agentLoop({
      model: poolModel(pool),
      roles: {
        writer: { systemPrompt: 'Write.', model: 'small' },
        reviewer: { systemPrompt: 'Review.', model: 'large' },
      },
      tools: toolInvoker(),
      toolSpecs: {},
    })
    const orchestrator = createOrchestrator({ log, blobs: new FsBlobStore({ dataDir: dir }), index, projector, agents })
    cleanups.push(async () => {
      await orchestrator.close()
      await index.close()
      await log.close()
    })
    const me = localCaller('ann')
    const text = JSON.stringify({
      name: 'costly',
      steps: [
        { id: 'draft', kind: 'agent', role: 'writer', prompt: 'draft it' },
        { id: 'review', kind: 'agent', role: 'reviewer', prompt: 'review it', needs: ['draft'] },
      ],
    })
    const runIds: string[] = []
    for (let i = 0; i < 2; i++) {
      const { runId } = await orchestrator.runs.start(me, { source: { text, format: 'json', origin: 'costly.json' } })
      expect((await orchestrator.runs.wait(me, runId)).status).toBe('completed')
      runIds.push(runId)
    }
    await projector.idle()
    // a run's view carries its ledger cost, per step and in total, and each agent turn as recorded
    const run = await orchestrator.runs.get(me, runIds[0]!)
    expect(run.steps.map((s) => [s.stepId, s.cost])).toEqual([
      ['draft', { calls: 1, inputTokens: 1000, outputTokens: 100, cost: 0.0012 }],
      ['review', { calls: 1, inputTokens: 1000, outputTokens: 100, cost: 0.013 }],
    ])
    expect(run.cost).toEqual({ calls: 2, inputTokens: 2000, outputTokens: 200, cost: expect.closeTo(0.0142, 10) })
    expect(run.steps[1]!.turns).toMatchObject([
      { turn: 1, model: 'large', source: 'smart', usage: { inputTokens: 1000, outputTokens: 100 }, cost: 0.013 },
    ])
    const byRole = await orchestrator.runs.costs(me, { by: 'role' })
    expect(byRole).toEqual([
      { key: 'reviewer', calls: 2, inputTokens: 2000, outputTokens: 200, cost: 0.026 },
      { key: 'writer', calls: 2, inputTokens: 2000, outputTokens: 200, cost: 0.0024 },
    ])
    expect((await orchestrator.runs.costs(me, { by: 'source' })).map((r) => r.key)).toEqual(['smart', 'cheap'])
    expect(await orchestrator.runs.costs(me, { by: 'workflow', before: '2000-01-01T00:00:00Z' })).toEqual([])
    await projector.rebuild()
    expect(await orchestrator.runs.costs(me, { by: 'role' })).toEqual(byRole)
    await expect(orchestrator.runs.costs(me, { by: 'run', runId: 'nope' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
  })
})
