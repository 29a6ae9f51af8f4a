import type { ChatRequest, ChatResponse, Provider } from '@shiioo/capacity'
import { CapacityPool } from '@shiioo/capacity'
import type { Payload, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT } from '@shiioo/core'
import { afterEach, describe, expect, it } from 'vitest'
import type { ModelPort, ToolRequest } from '../../src/index.js'
import { agentLoop, poolModel, resolvePayload, toolInvoker } from '../../src/index.js'
import type { Harness } from './harness.js'
import { openHarness, types, workflow } from './harness.js'

const T: TenantId = DEFAULT_TENANT
let h: Harness
afterEach(async () => h?.close())

/** A provider that asks for one echo tool call on the first turn of a conversation, then answers. */
class ScriptedProvider implements Provider {
  readonly kind = 'scripted'
  readonly requests: ChatRequest[] = []
  constructor(private readonly alwaysTools = false) {}
  chat(request: ChatRequest): Promise<ChatResponse> {
    this.requests.push(request)
    const toolResults = request.messages.filter((m) => m.role === 'tool')
    const usage = { inputTokens: 100, outputTokens: 20 }
    if (this.alwaysTools || toolResults.length === 0) {
      return Promise.resolve({
        text: 'let me check',
        toolCalls: [{ id: `call_${this.requests.length}`, name: 'core.echo', input: { q: 'facts' } }],
        stopReason: 'tool_use',
        usage,
        model: request.model,
      })
    }
    return Promise.resolve({
      text: `answer from ${toolResults.at(-1)!.content}`,
      toolCalls: [],
      stopReason: 'end',
      usage,
      model: request.model,
    })
  }
}

const roles = { researcher: { systemPrompt: 'You research.', model: 'm1', maxTokens: 200 } }
const toolSpecs = { 'core.echo': { description: 'Echoes its input', inputSchema: { type: 'object' } } }
const def = workflow({
  name: 'agent',
  steps: [
    {
      id: 'ask',
      kind: 'agent',
      role: 'researcher',
      prompt: 'Find facts',
      tools: ['core.echo'],
      retry: { maxAttempts: 1 },
    },
  ],
  output: '${{ steps.ask.output }}',
})

function loop(model: ModelPort, calls: ToolRequest[] = []) {
  const tools = toolInvoker({ 'core.echo': (r) => (calls.push(r), r.input) })
  return { agents: agentLoop({ model, roles, tools, toolSpecs }), tools }
}

describe('engine: agent steps on the capacity pool', () => {
  it('runs the tool-calling loop, records every turn, and reports usage and cost', async () => {
    const provider = new ScriptedProvider()
    const pool = new CapacityPool({
      sources: [{ id: 'main', provider, models: ['m1'], prices: { inputPer1M: 3, outputPer1M: 15 } }],
    })
    const toolCalls: ToolRequest[] = []
    h = await openHarness(loop(poolModel(pool), toolCalls))
    const { runId } = await h.engine.start({ definition: def })
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('completed')
    expect(end.output).toEqual({
      inline: {
        text: 'answer from {"q":"facts"}',
        turns: 2,
        usage: { inputTokens: 200, outputTokens: 40 },
        cost: 0.0012,
      },
    })
    expect(types(await h.events(runId))).toEqual([
      'run.started',
      'step.started:ask',
      'agent.turn:ask',
      'agent.tool:ask',
      'agent.turn:ask',
      'step.completed:ask',
      'run.completed',
    ])
    expect(provider.requests[0]!.messages).toEqual([
      { role: 'system', content: 'You research.' },
      { role: 'user', content: 'Find facts' },
    ])
    expect(provider.requests[0]!.tools).toEqual([{ name: 'core.echo', ...toolSpecs['core.echo'] }])
    expect(provider.requests.map((r) => r.idempotencyKey)).toEqual([`${runId}:ask:1:t1`, `${runId}:ask:1:t2`])
    expect(toolCalls.map((c) => c.idempotencyKey)).toEqual([`${runId}:ask:1:t1:call_1`])
    const turn = (await h.events(runId)).find((e) => e.type === 'agent.turn')!
    expect(turn.data).toMatchObject({
      request: { blob: expect.stringMatching(/^[0-9a-f]{64}$/) as string, contentType: 'application/json' },
      response: { blob: expect.stringMatching(/^[0-9a-f]{64}$/) as string },
    })
    expect(turn.data).toMatchObject({
      turn: 1,
      source: 'main',
      usage: { inputTokens: 100, outputTokens: 20 },
    })
    const response = await resolvePayload(h.blobs, T, (turn.data as { response: Payload }).response)
    expect(response).toMatchObject({ stopReason: 'tool_use', toolCalls: [{ name: 'core.echo' }] })
    // the tool call is an event of its own, its input and output in blobs
    const call = (await h.events(runId)).find((e) => e.type === 'agent.tool')!
    expect(call.data).toMatchObject({ stepId: 'ask', attempt: 1, turn: 1, callId: 'call_1', tool: 'core.echo' })
    const data = call.data as { input: Payload; output: Payload }
    expect('blob' in data.input && 'blob' in data.output).toBe(true)
    expect(await resolvePayload(h.blobs, T, data.output)).toEqual({ q: 'facts' })
  })

  it('after a restart mid-step, reuses the recorded turns instead of asking the model again', async () => {
    let turnsAsked = 0
    const hanging: ModelPort = {
      complete: async (call) => {
        turnsAsked++
        if (call.messages.some((m) => m.role === 'tool')) return new Promise(() => undefined) // the process dies here
        const response = await new ScriptedProvider().chat({ model: call.model, messages: call.messages })
        return { response, source: 'main', cost: 0 }
      },
    }
    const toolCalls: ToolRequest[] = []
    h = await openHarness(loop(hanging, toolCalls))
    const { runId } = await h.engine.start({ definition: def })
    while (turnsAsked < 2) await new Promise((r) => setTimeout(r, 5))
    const provider = new ScriptedProvider()
    await h.restart(
      loop(
        {
          complete: async (call) => ({
            response: await provider.chat({ model: call.model, messages: call.messages }),
            source: 'main',
            cost: 0,
          }),
        },
        toolCalls,
      ),
    )
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('completed')
    expect(provider.requests).toHaveLength(1) // only turn 2: turn 1 came from the log
    // the tool call turn 1 asked for was recorded with its result before the crash: not called again
    expect(toolCalls.map((c) => c.idempotencyKey)).toEqual([`${runId}:ask:1:t1:call_1`])
    expect(types(await h.events(runId)).filter((t) => t === 'agent.turn:ask')).toHaveLength(2)
    expect(types(await h.events(runId)).filter((t) => t === 'agent.tool:ask')).toHaveLength(1)
  })

  it('fails the step when the model still wants tools after the turn limit, and names an unknown role', async () => {
    const pool = new CapacityPool({ sources: [{ id: 'main', provider: new ScriptedProvider(true), models: ['m1'] }] })
    h = await openHarness(loop(poolModel(pool)))
    const limited = workflow({
      name: 'limited',
      steps: [{ id: 'ask', kind: 'agent', role: 'researcher', prompt: 'x', tools: ['core.echo'], maxTurns: 3 }],
    })
    const a = await h.engine.start({ definition: limited })
    expect((await h.engine.wait(T, a.runId)).error).toEqual({
      code: 'MAX_TURNS',
      message: 'the agent still wanted tools after 3 turns',
      retryable: false,
    })
    const stranger = workflow({ name: 'stranger', steps: [{ id: 'ask', kind: 'agent', role: 'poet', prompt: 'x' }] })
    const b = await h.engine.start({ definition: stranger })
    expect((await h.engine.wait(T, b.runId)).error).toMatchObject({
      code: 'INVALID_INPUT',
      message: 'no agent role "poet"; roles: researcher',
    })
  })

  it('never calls a tool the step does not grant, whatever the model asks', async () => {
    const provider = new ScriptedProvider()
    const pool = new CapacityPool({ sources: [{ id: 'main', provider, models: ['m1'] }] })
    const calls: ToolRequest[] = []
    h = await openHarness(loop(poolModel(pool), calls))
    const bare = workflow({ name: 'bare', steps: [{ id: 'ask', kind: 'agent', role: 'researcher', prompt: 'x' }] })
    const { runId } = await h.engine.start({ definition: bare })
    expect((await h.engine.wait(T, runId)).status).toBe('completed')
    expect(calls).toEqual([])
    const refusal = provider.requests[1]!.messages.find((m) => m.role === 'tool')
    expect(refusal?.content).toContain('FORBIDDEN: tool \\"core.echo\\" is not available to this step (tools: none)')
  })

  it('replays a finished agent run without calling the model', async () => {
    const provider = new ScriptedProvider()
    const pool = new CapacityPool({ sources: [{ id: 'main', provider, models: ['m1'] }] })
    h = await openHarness(loop(poolModel(pool)))
    const { runId } = await h.engine.start({ definition: def })
    await h.engine.wait(T, runId)
    const before = provider.requests.length
    expect(await h.engine.replay(T, runId)).toMatchObject({ ok: true, calls: 0 })
    expect(provider.requests.length).toBe(before)
  })

  it("hands the model's text on as it streams, turn by turn, and a listener that throws fails nothing", async () => {
    /** Streams its reply in 4-character pieces when asked to. */
    const streaming: Provider = {
      kind: 'streaming',
      async chat(request) {
        const response = await new ScriptedProvider().chat(request)
        if (request.stream)
          for (let i = 0; i < response.text.length; i += 4) request.onText?.(response.text.slice(i, i + 4))
        return response
      },
    }
    const pool = new CapacityPool({ sources: [{ id: 'main', provider: streaming, models: ['m1'] }] })
    const seen: { runId: string; stepId: string; attempt: number; turn: number; delta: string; source: string }[] = []
    const { agents, tools } = loop(poolModel(pool))
    h = await openHarness({
      tools,
      agents: {
        run: (request) =>
          agents.run({
            ...request,
            onText: (t) => {
              seen.push({ runId: request.runId, stepId: request.stepId, attempt: request.attempt, ...t })
              throw new Error('a broken listener')
            },
          }),
      },
    })
    const { runId } = await h.engine.start({ definition: def })
    const end = await h.engine.wait(T, runId)
    expect(end.status).toBe('completed')
    const said = (turn: number) =>
      seen
        .filter((d) => d.turn === turn)
        .map((d) => d.delta)
        .join('')
    expect(said(1)).toBe('let me check')
    expect(said(2)).toBe('answer from {"q":"facts"}')
    expect(new Set(seen.map((d) => `${d.runId}/${d.stepId}/${d.attempt}/${d.source}`))).toEqual(
      new Set([`${runId}/ask/1/main`]),
    )
  })

  it("refuses a step that lists a tool its role's grants do not cover, before any model call", async () => {
    const provider = new ScriptedProvider()
    const pool = new CapacityPool({ sources: [{ id: 'main', provider, models: ['m1'] }] })
    const tools = toolInvoker({ 'core.echo': (r) => r.input, 'web.get': () => ({}) })
    const agents = agentLoop({
      model: poolModel(pool),
      roles: { researcher: { ...roles.researcher, tools: ['core.*'] } },
      tools,
      toolSpecs: { ...toolSpecs, 'web.get': { inputSchema: { type: 'object' } } },
    })
    h = await openHarness({ agents, tools })
    const ok = await h.engine.start({ definition: def })
    expect((await h.engine.wait(T, ok.runId)).status).toBe('completed')
    const wide = workflow({
      name: 'wide',
      steps: [{ id: 'ask', kind: 'agent', role: 'researcher', prompt: 'x', tools: ['core.echo', 'web.get'] }],
    })
    const before = provider.requests.length
    const refused = await h.engine.start({ definition: wide })
    expect((await h.engine.wait(T, refused.runId)).error).toEqual({
      code: 'FORBIDDEN',
      message: 'the role researcher may not use web.get (its tools: core.*)',
      retryable: false,
    })
    expect(provider.requests.length).toBe(before)
  })
})
