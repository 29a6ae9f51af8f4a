import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ShiiooError } from '@shiioo/core'
import { loadSimulatedScript, parseSimulatedScript, simulatedProvider } from '../src/providers/simulated.js'
import type { ChatMessage, ChatRequest } from '../src/index.js'
import { failure } from './provider-contract.js'

const file = fileURLToPath(new URL('./fixtures/weather.simulated.yaml', import.meta.url))
const tools = [{ name: 'get_weather', inputSchema: { type: 'object' } }]
const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'small-1',
  messages: [{ role: 'user', content }],
  tools,
  ...extra,
})

describe('simulated provider', () => {
  it('runs a scripted tool-call loop from a YAML file', async () => {
    const provider = simulatedProvider({ script: await loadSimulatedScript({ file }) })
    expect(provider.kind).toBe('simulated')
    const first = await provider.chat(ask('What is the weather in Lisbon?'))
    expect(first).toMatchObject({
      text: 'Let me check Lisbon.',
      toolCalls: [{ id: 'sim_1_1', name: 'get_weather', input: { city: 'Lisbon', units: 'metric' } }],
      stopReason: 'tool_use',
    })
    const messages: ChatMessage[] = [
      ...ask('What is the weather in Lisbon?').messages,
      { role: 'assistant', content: first.text, toolCalls: first.toolCalls },
      { role: 'tool', toolCallId: 'sim_1_1', name: 'get_weather', content: 'sunny, 24 C' },
    ]
    const second = await provider.chat(ask('', { messages }))
    expect(second).toEqual({
      text: 'The forecast: sunny, 24 C.',
      toolCalls: [],
      stopReason: 'end',
      usage: { inputTokens: 100, outputTokens: 7 },
      model: 'small-1',
    })
  })

  it('matches rules in order on the system prompt, the model, the offered tools', async () => {
    const provider = simulatedProvider({ script: await loadSimulatedScript({ file }) })
    const review = await provider.chat({
      model: 'small-1',
      messages: [
        { role: 'system', content: 'You review pull requests.' },
        { role: 'user', content: 'weather in Oslo' },
      ],
    })
    expect(review.text).toBe('LGTM') // no get_weather tool offered, so the first rule does not match
    expect((await provider.chat(ask('hi', { model: 'big-2' }))).stopReason).toBe('max_tokens')
    const fallback = await provider.chat(ask('tell me a joke'))
    expect(fallback.text).toBe('I only know about the weather. You said: tell me a joke')
    // ceil((14 + 11 + 17) / 4): the message, the tool's name and schema; ceil(55 / 4) out
    expect(fallback.usage).toEqual({ inputTokens: 11, outputTokens: 14 })
  })

  it('is deterministic and streams its text', async () => {
    const provider = simulatedProvider()
    const deltas: string[] = []
    const a = await provider.chat(ask('hello world', { stream: true, onText: (d) => deltas.push(d) }))
    const b = await provider.chat(ask('hello world'))
    expect(a).toEqual(b)
    expect(a.text).toBe('Simulated reply to: hello world')
    expect(deltas).toEqual(['Simulated ', 'reply ', 'to: ', 'hello ', 'world'])
  })

  it('reads JSON scripts too, and says which field is wrong', async () => {
    const script = await loadSimulatedScript({ text: '{"rules":[{"reply":{"text":"hi"}}]}' })
    expect((await simulatedProvider({ script }).chat(ask('x'))).text).toBe('hi')
    for (const [text, field] of [
      ['rules: [{ when: { lastUser: "(" }, reply: { text: x } }]', 'rules.0.when.lastUser'],
      ['rules: [{ reply: { txt: x } }]', 'rules.0.reply'],
      ['rules: [{ reply: { toolCalls: [{ input: {} }] } }]', 'rules.0.reply.toolCalls.0.name'],
    ] as const) {
      const err = (() => {
        try {
          parseSimulatedScript(text)
        } catch (e) {
          return e as ShiiooError
        }
      })()
      expect(err?.code).toBe('INVALID_INPUT')
      expect(err?.details.field).toBe(field)
    }
    await expect(loadSimulatedScript({ file: `${file}.missing` })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(() => parseSimulatedScript('rules: [')).toThrow(ShiiooError)
  })

  it('ends an aborted call', async () => {
    const controller = new AbortController()
    controller.abort()
    expect((await failure(simulatedProvider().chat(ask('x', { signal: controller.signal })))).details).toMatchObject({
      kind: 'aborted',
    })
  })
})
