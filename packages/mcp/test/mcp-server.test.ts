import type { ErrorCode, LogContext, Logger } from '@shiioo/core'
import { ERROR_CODES, ShiiooError } from '@shiioo/core'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js'
import { afterEach, describe, expect, it } from 'vitest'
import type { McpResourceProvider, ToolCaller } from '../src/index.js'
import { IDEMPOTENCY_KEY_META, MCP_ERRORS, createShiiooMcpServer } from '../src/index.js'
import type { TestCatalog } from './fixtures/catalog.js'
import { caller, testCatalog, testPermits, testTools } from './fixtures/catalog.js'

/** A logger that keeps what it was told, to check what the log gets and the client does not. */
function recordingLogger(lines: { message: string; context: LogContext }[] = []): Logger {
  const log = (message: string, context: LogContext = {}) => void lines.push({ message, context })
  return { debug: log, info: log, warn: log, error: log, child: () => recordingLogger(lines) }
}

const resources: McpResourceProvider = {
  list: async (who) => [{ uri: `shiioo://runs/${who.tenant}/r1`, name: 'run r1', mimeType: 'application/json' }],
  read: async (who, uri) => {
    if (uri !== `shiioo://runs/${who.tenant}/r1`) throw new ShiiooError('NOT_FOUND', `no resource ${uri}`)
    return [{ uri, mimeType: 'application/json', text: '{"id":"r1"}' }]
  },
  templates: async () => [{ uriTemplate: 'shiioo://runs/{tenant}/{runId}', name: 'run' }],
}

const clients: Client[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function connect(
  options: {
    who?: ToolCaller | (() => ToolCaller)
    catalog?: TestCatalog
    logger?: Logger
    withResources?: boolean
  } = {},
) {
  const catalog = options.catalog ?? testCatalog(testTools(), testPermits)
  const server = createShiiooMcpServer({
    catalog,
    caller: options.who ?? caller('acme', 'user:ana'),
    version: '1.2.3',
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.withResources ? { resources } : {}),
  })
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  await server.connect(serverSide)
  const client = new Client({ name: 'test', version: '1' })
  await client.connect(clientSide)
  clients.push(client)
  return { client, catalog }
}

describe('createShiiooMcpServer over an in-memory transport', () => {
  it('initializes with the latest protocol, tools and logging (resources only when given)', async () => {
    const { client } = await connect()
    expect(client.getServerVersion()).toMatchObject({ name: 'shiioo', version: '1.2.3' })
    expect(client.getServerCapabilities()).toMatchObject({ tools: {}, logging: {} })
    expect(client.getServerCapabilities()?.resources).toBeUndefined()
    const { client: withResources } = await connect({ withResources: true })
    expect(withResources.getServerCapabilities()?.resources).toEqual({})
    expect(LATEST_PROTOCOL_VERSION).toBe('2025-11-25')
  })

  it('lists the tools the caller is granted, with their JSON Schema unchanged and MCP hints', async () => {
    const { client } = await connect()
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toEqual([
      'test.add',
      'test.crash',
      'test.echo',
      'test.fail',
      'test.key',
      'test.wait',
    ])
    const echo = tools.find((t) => t.name === 'test.echo')
    expect(echo).toEqual({
      name: 'test.echo',
      title: 'Echo',
      description: 'Returns its text and who called.',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      annotations: {
        title: 'Echo',
        readOnlyHint: true,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    })
    const { client: admin } = await connect({ who: caller('acme', 'user:root', ['admin']) })
    expect((await admin.listTools()).tools.map((t) => t.name)).toContain('admin.purge')
  })

  it('calls a tool: JSON text for every client, structuredContent when the output is an object', async () => {
    const { client, catalog } = await connect()
    const echo = await client.callTool({ name: 'test.echo', arguments: { text: 'hi' } })
    expect(echo).toEqual({
      content: [{ type: 'text', text: '{"text":"hi","actor":"user:ana"}' }],
      structuredContent: { text: 'hi', actor: 'user:ana' },
    })
    const add = await client.callTool({ name: 'test.add', arguments: { a: 2, b: 40 } })
    expect(add).toEqual({ content: [{ type: 'text', text: '42' }] })
    expect(catalog.calls[0]!.caller).toEqual(caller('acme', 'user:ana'))
    expect(catalog.calls[0]!.signal).toBeInstanceOf(AbortSignal)
  })

  it('gives each call a fresh idempotency key, or one derived from the client key scoped to its caller', async () => {
    const { client } = await connect()
    const keyOf = async (meta?: Record<string, unknown>) => {
      const r = await client.callTool({ name: 'test.key', arguments: {}, ...(meta ? { _meta: meta } : {}) })
      return (r.structuredContent as { key: string }).key
    }
    const [a, b] = [await keyOf(), await keyOf()]
    expect(a).toMatch(/^mcp:[0-9a-f-]{36}$/)
    expect(a).not.toBe(b)
    const k1 = await keyOf({ [IDEMPOTENCY_KEY_META]: 'order-17' })
    expect(k1).toMatch(/^mcp:[0-9a-f]{64}$/)
    expect(await keyOf({ [IDEMPOTENCY_KEY_META]: 'order-17' })).toBe(k1)
    const { client: other } = await connect({ who: caller('other', 'user:ana') })
    const r = await other.callTool({ name: 'test.key', arguments: {}, _meta: { [IDEMPOTENCY_KEY_META]: 'order-17' } })
    expect((r.structuredContent as { key: string }).key).not.toBe(k1)
    const bad = await client.callTool({ name: 'test.key', arguments: {}, _meta: { [IDEMPOTENCY_KEY_META]: 7 } })
    expect(bad.isError).toBe(true)
    expect((bad.content as { text: string }[])[0]!.text).toMatch(/^INVALID_INPUT: _meta/)
  })

  it('answers an unknown tool, and one the caller is not granted, with the protocol error InvalidParams', async () => {
    const { client } = await connect()
    for (const name of ['test.nope', 'admin.purge']) {
      const err = await client.callTool({ name, arguments: {} }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(McpError)
      expect(err).toMatchObject({ code: -32602, message: `MCP error -32602: Unknown tool: ${name}`, data: { name } })
    }
  })

  it('surfaces invalid arguments as a tool-execution error naming the field (SEP-1303)', async () => {
    const { client, catalog } = await connect()
    const r = await client.callTool({ name: 'test.add', arguments: { a: 1 } })
    expect(r).toEqual({
      isError: true,
      content: [{ type: 'text', text: 'INVALID_INPUT: input.b is required' }],
      structuredContent: {
        error: {
          code: 'INVALID_INPUT',
          message: 'input.b is required',
          retryable: false,
          details: { field: 'input.b' },
        },
      },
    })
    const none = await client.callTool({ name: 'test.echo' })
    expect((none.content as { text: string }[])[0]!.text).toBe('INVALID_INPUT: input.text is required')
    expect(catalog.calls).toHaveLength(0)
  })

  it.each(ERROR_CODES.filter((c) => !MCP_ERRORS[c].masked))(
    'returns a tool failing with %s as isError with its code, message and retryability',
    async (code: ErrorCode) => {
      const { client } = await connect()
      const r = await client.callTool({ name: 'test.fail', arguments: { code } })
      const retryable = new ShiiooError(code, '').retryable
      expect(r.isError).toBe(true)
      expect(r.content).toEqual([{ type: 'text', text: `${code}: failed on purpose with ${code}` }])
      expect(r.structuredContent).toEqual({
        error: { code, message: `failed on purpose with ${code}`, retryable, details: { field: 'input.code' } },
      })
    },
  )

  it('masks internal failures: no message, stack or secret reaches the client; the log has it under a ref', async () => {
    const lines: { message: string; context: LogContext }[] = []
    const { client } = await connect({ logger: recordingLogger(lines) })
    for (const [name, args] of [
      ['test.crash', {}],
      ['test.fail', { code: 'INTERNAL' }],
      ['test.fail', { code: 'DATA_CORRUPTED' }],
    ] as const) {
      const r = await client.callTool({ name, arguments: args })
      const text = (r.content as { text: string }[])[0]!.text
      expect(r.isError).toBe(true)
      expect(text).toMatch(/^(INTERNAL: internal error|DATA_CORRUPTED: stored data failed).*\(ref [0-9a-f-]{36}\)$/)
      expect(JSON.stringify(r)).not.toMatch(/hunter2|secret|on purpose|\.ts:/)
      const ref = /ref ([0-9a-f-]{36})/.exec(text)![1]
      expect(lines.some((l) => l.context.ref === ref && l.message === 'tool call failed')).toBe(true)
    }
  })

  it('passes cancellation on as the abort of the call signal', async () => {
    const { client, catalog } = await connect()
    const controller = new AbortController()
    const call = client.callTool({ name: 'test.wait', arguments: {} }, undefined, { signal: controller.signal })
    await expect.poll(() => catalog.calls.length).toBe(1)
    controller.abort('enough')
    await expect(call).rejects.toThrow(/enough/)
    await expect.poll(() => catalog.calls[0]!.signal.aborted).toBe(true)
  })

  it('asks a caller function at every request, so a role taken away applies at once', async () => {
    let current = caller('acme', 'user:root', ['admin'])
    const { client } = await connect({ who: () => current })
    expect((await client.callTool({ name: 'admin.purge', arguments: {} })).structuredContent).toEqual({ purged: true })
    current = caller('acme', 'user:root', ['member'])
    await expect(client.callTool({ name: 'admin.purge', arguments: {} })).rejects.toThrow(/Unknown tool/)
  })

  it('serves resources: list, templates, read, and -32002 for a URI the caller cannot see', async () => {
    const { client } = await connect({ withResources: true })
    expect((await client.listResources()).resources).toEqual([
      { uri: 'shiioo://runs/acme/r1', name: 'run r1', mimeType: 'application/json' },
    ])
    expect((await client.listResourceTemplates()).resourceTemplates).toEqual([
      { uriTemplate: 'shiioo://runs/{tenant}/{runId}', name: 'run' },
    ])
    expect((await client.readResource({ uri: 'shiioo://runs/acme/r1' })).contents).toEqual([
      { uri: 'shiioo://runs/acme/r1', mimeType: 'application/json', text: '{"id":"r1"}' },
    ])
    const err = await client.readResource({ uri: 'shiioo://runs/other/r1' }).catch((e: unknown) => e)
    expect(err).toMatchObject({
      code: -32002,
      message: 'MCP error -32002: no resource shiioo://runs/other/r1',
      data: { uri: 'shiioo://runs/other/r1', code: 'NOT_FOUND', retryable: false },
    })
  })

  it('accepts logging/setLevel', async () => {
    const { client } = await connect()
    await expect(client.setLoggingLevel('warning')).resolves.toEqual({})
  })
})
