import { ShiiooError } from '@shiioo/core'
import { afterEach, describe, expect, it } from 'vitest'
import type { ToolCallContext, ToolDefinition, ToolSource } from '../src/index.js'
import { externalMcpSource } from '../src/index.js'
import { caller } from './fixtures/catalog.js'
import type { Endpoint } from './fixtures/http-endpoint.js'
import { listen } from './fixtures/http-endpoint.js'

// One Shiioo importing another's /mcp endpoint: both edges of this package against each other.
const opened: { endpoint: Endpoint; source: ToolSource }[] = []
afterEach(async () => {
  for (const { endpoint, source } of opened.splice(0)) {
    await source.close?.()
    await endpoint.close()
  }
})

async function peer(token = 'tok-ana'): Promise<{ endpoint: Endpoint; source: ToolSource }> {
  const endpoint = await listen()
  const source = externalMcpSource({
    prefix: 'peer',
    transport: { kind: 'http', url: endpoint.url.href, headers: { Authorization: `Bearer ${token}` } },
    timeoutMs: 10_000,
  })
  opened.push({ endpoint, source })
  await source.start!()
  return { endpoint, source }
}

function context(idempotencyKey = 'run-1/step-a/1'): ToolCallContext {
  return { caller: caller('acme', 'agent:run/step'), signal: new AbortController().signal, idempotencyKey }
}

function tool(source: ToolSource, name: string): ToolDefinition {
  return source.tools().find((t) => t.name === name)!
}

describe("externalMcpSource against Shiioo's own MCP endpoint", () => {
  it("imports the tools the token's caller is granted, hints included, and calls them as that caller", async () => {
    const { source, endpoint } = await peer()
    expect(source.tools().map((t) => t.name)).toEqual([
      'peer.test.add',
      'peer.test.crash',
      'peer.test.echo',
      'peer.test.fail',
      'peer.test.key',
      'peer.test.wait',
    ])
    expect(tool(source, 'peer.test.echo').annotations).toEqual({
      readOnly: true,
      destructive: false,
      idempotent: true,
      openWorld: false,
    })
    expect(await tool(source, 'peer.test.echo').call({ text: 'hello' }, context())).toEqual({
      text: 'hello',
      actor: 'user:ana',
    })
    expect(await tool(source, 'peer.test.add').call({ a: 1, b: 2 }, context())).toBe(3)
    expect(endpoint.handler.sessions.size).toBe(1)
    await source.close!()
    // close() ends the session on the server (DELETE)
    expect(endpoint.handler.sessions.size).toBe(0)
  })

  it("passes the step's idempotency key on, which the peer scopes to its own caller", async () => {
    const { source } = await peer()
    const key = (k: string) => tool(source, 'peer.test.key').call({}, context(k)) as Promise<{ key: string }>
    const first = await key('run-1/step-a/1')
    expect(first.key).toMatch(/^mcp:[0-9a-f]{64}$/)
    expect(await key('run-1/step-a/1')).toEqual(first)
    expect(await key('run-1/step-a/2')).not.toEqual(first)
  })

  it("maps the peer's errors: its input errors are INVALID_INPUT, its retryable ones UNAVAILABLE retryable", async () => {
    const { source } = await peer()
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e as ShiiooError,
      )
    expect(await failure(tool(source, 'peer.test.add').call({ a: 1 }, context()))).toMatchObject({
      code: 'INVALID_INPUT',
      retryable: false,
      message: 'peer.test.add failed: INVALID_INPUT: input.b is required',
    })
    expect(await failure(tool(source, 'peer.test.fail').call({ code: 'RATE_LIMITED' }, context()))).toMatchObject({
      code: 'UNAVAILABLE',
      retryable: true,
      message: 'peer.test.fail failed: RATE_LIMITED: failed on purpose with RATE_LIMITED',
    })
    const crash = await failure(tool(source, 'peer.test.crash').call({}, context()))
    expect(crash).toBeInstanceOf(ShiiooError)
    expect(crash!.message).toMatch(
      /^peer\.test\.crash failed: INTERNAL: internal error: the details are in the server log/,
    )
  })

  it('fails to start with a token the peer refuses, naming the URL and not the token', async () => {
    const endpoint = await listen()
    const source = externalMcpSource({
      prefix: 'peer',
      transport: { kind: 'http', url: endpoint.url.href, headers: { Authorization: 'Bearer tok-nobody' } },
    })
    opened.push({ endpoint, source })
    const err = (await source.start!().catch((e: unknown) => e)) as ShiiooError
    expect(err.message).toMatch(
      /^mcp server "peer" \(http:\/\/127\.0\.0\.1:\d+\/mcp\) could not be started: .*the token is not valid/,
    )
    // credentials the peer refuses do not mend by themselves
    expect(err).toMatchObject({ code: 'UNAVAILABLE', retryable: false, details: { kind: 'credentials', status: 401 } })
    expect(err.message).not.toContain('tok-nobody')
  })
})
