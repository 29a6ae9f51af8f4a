import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startLlmTestServer } from '@shiioo/testkit'
import type { LlmTestServer } from '@shiioo/testkit'
import type { ChatMessage, Provider, ToolSpec } from '../src/provider.js'
import { anthropicProvider } from '../src/providers/anthropic.js'
import { openAiProvider } from '../src/providers/openai.js'

// Both vendors refuse tool names outside ^[a-zA-Z0-9_-]{1,64}$ (the test server as strictly):
// a dotted built-in, an MCP tool's long dotted name, and two names that sanitize alike.
const LONG = `mcp.acme-internal-knowledge-base.${'search'.repeat(8)}.documents`
const tools: ToolSpec[] = [
  { name: 'core.echo', inputSchema: { type: 'object' } },
  { name: 'core_echo', inputSchema: { type: 'object' } },
  { name: LONG, inputSchema: { type: 'object' } },
]

describe.each([
  ['openai', (s: LlmTestServer) => openAiProvider({ baseUrl: s.openAiBaseUrl, apiKey: s.apiKey })],
  ['anthropic', (s: LlmTestServer) => anthropicProvider({ baseUrl: s.anthropicBaseUrl, apiKey: s.apiKey })],
] as const)('%s provider: tool names the vendor accepts', (api, make) => {
  let server: LlmTestServer
  let provider: Provider
  beforeAll(async () => {
    server = await startLlmTestServer()
    provider = make(server)
  })
  afterAll(async () => {
    await server.close()
  })
  beforeEach(() => server.reset())

  it.each([false, true])('sends safe names and maps the calls back (stream: %s)', async (stream) => {
    server.setReply((r) => {
      const names = r.tools.map((t) => t.name)
      return {
        toolCalls: [
          { name: names[0]!, input: {} },
          { name: names[2]!, input: { q: 1 } },
        ],
      }
    })
    const first = await provider.chat({ model: 'm', messages: [{ role: 'user', content: 'go' }], tools, stream })
    expect(first.toolCalls.map((c) => c.name)).toEqual(['core.echo', LONG])
    const sent = server.requests[0]!.body as Record<string, unknown>
    const sentNames =
      api === 'openai'
        ? (sent.tools as { function: { name: string } }[]).map((t) => t.function.name)
        : (sent.tools as { name: string }[]).map((t) => t.name)
    for (const n of sentNames) expect(n).toMatch(/^[a-zA-Z0-9_-]{1,64}$/)
    expect(new Set(sentNames).size).toBe(3)
    expect(sentNames[1]).toBe('core_echo')

    // the next turn sends the calls back in the history under the same vendor names
    server.setReply(undefined)
    const messages: ChatMessage[] = [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: '', toolCalls: first.toolCalls },
      ...first.toolCalls.map((c): ChatMessage => ({ role: 'tool', toolCallId: c.id, name: c.name, content: '{}' })),
    ]
    const second = await provider.chat({ model: 'm', messages, tools, stream })
    expect(second.text).toContain('Tool results')
    expect(server.requests.map((r) => r.status)).toEqual([200, 200])
  })
})
