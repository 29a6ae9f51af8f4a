import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RestStack } from './rest-helpers.js'
import { apiClient, exampleYaml, openRestStack } from './rest-helpers.js'

// The capacity and metrics routes over a configured pool: a simulated source (deterministic
// answers, token counts estimated from the text), one limited to another tenant.
let stack: RestStack
let api: ReturnType<typeof apiClient>

beforeAll(async () => {
  stack = await openRestStack({
    orchestrator: {
      capacity: {
        sources: [
          {
            id: 'sim',
            provider: 'simulated',
            models: ['sim-1'],
            limits: { maxConcurrent: 4, requestsPerMinute: 600 },
            prices: { inputPer1M: 1, outputPer1M: 2 },
          },
          { id: 'acme-only', provider: 'simulated', models: ['sim-2'], tenants: ['acme'] },
        ],
        roles: {},
      },
    },
  })
  api = apiClient(stack.app)
})
afterAll(async () => {
  await stack.close()
})

describe('capacity and metrics over a configured pool', () => {
  it('lists the sources that serve the caller’s tenant, never another tenant’s, never a key', async () => {
    const res = await api.call('get', '/api/capacity/sources')
    expect(res.status).toBe(200)
    const pool = (await res.json()) as { queued: number; sources: Array<Record<string, unknown>> }
    expect(pool.queued).toBe(0)
    expect(pool.sources).toEqual([
      {
        id: 'sim',
        provider: 'simulated',
        models: ['sim-1'],
        priority: 0,
        enabled: true,
        roles: null,
        limits: { requestsPerMinute: 600, tokensPerMinute: null, tokensPerDay: null, maxConcurrent: 4 },
        prices: { inputPer1M: 1, outputPer1M: 2 },
        state: 'ok',
        stateUntil: null,
        reason: null,
        inFlight: 0,
        saturation: 0,
      },
    ])
  })

  it('reports the model calls of a run in usage, costs and the LLM metrics', async () => {
    const started = await api.call('post', '/api/runs', {
      body: { workflow: { text: await exampleYaml('approval-gate') }, input: { version: '9.9' } },
    })
    const { runId } = (await started.json()) as { runId: string }
    let rows: Array<{ key: string; calls: number; inputTokens: number; cost: number }> = []
    for (let i = 0; i < 200 && rows.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25))
      rows = ((await (await api.call('get', '/api/capacity/usage')).json()) as { items: typeof rows }).items
    }
    expect(rows).toEqual([expect.objectContaining({ key: 'sim', calls: 1 })])
    expect(rows[0]!.inputTokens).toBeGreaterThan(0)
    expect(rows[0]!.cost).toBeGreaterThan(0)
    const byModel = (await (await api.call('get', '/api/costs', { query: { by: 'model', runId } })).json()) as {
      items: Array<{ key: string }>
    }
    expect(byModel.items.map((r) => r.key)).toEqual(['sim-1'])

    const text = await (await api.call('get', '/metrics')).text()
    expect(text).toMatch(/^shiioo_llm_calls_total\{tenant="default",model="sim-1"\} 1$/m)
    expect(text).toMatch(
      new RegExp(`^shiioo_llm_input_tokens_total\\{tenant="default",model="sim-1"\\} ${rows[0]!.inputTokens}$`, 'm'),
    )
    expect(text).toMatch(/^shiioo_llm_cost_total\{tenant="default",model="sim-1"\} [0-9.e-]+$/m)
    expect(text).toMatch(/^shiioo_pool_source_saturation\{source="sim"\} 0$/m)
    expect(text).toMatch(/^shiioo_pool_source_state\{source="sim",state="ok"\} 1$/m)
    expect(text).not.toContain('acme-only')
    await api.call('post', '/api/runs/{runId}/cancel', { params: { runId } })
  })
})
