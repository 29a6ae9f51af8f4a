import { ShiiooError } from '@shiioo/core'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js'
import { McpError, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js'
import { afterEach, describe, expect, it } from 'vitest'
import type { McpResourceProvider, McpToolProvider, ToolCaller } from '../src/index.js'
import { MAX_SUBSCRIPTIONS, createShiiooMcpServer } from '../src/index.js'
import { caller, testCatalog, testPermits, testTools } from './fixtures/catalog.js'

const ana = caller('acme', 'user:ana')

/** Resources `r/<n>` exist; each watch is recorded, with the way to change its resource. */
function watchedResources() {
  const watches: Array<{ uri: string; who: ToolCaller; changed: () => void; signal: AbortSignal }> = []
  const provider: McpResourceProvider = {
    list: async () => [],
    read: async (_who, uri) => [{ uri, text: 'x' }],
    async watch(who, uri, changed, { signal }) {
      if (!uri.startsWith('r/')) throw new ShiiooError('NOT_FOUND', `Resource not found: ${uri}`)
      if (uri === 'r/static') throw new ShiiooError('INVALID_INPUT', 'r/static never changes')
      watches.push({ uri, who, changed, signal })
    },
  }
  return { provider, watches }
}

const clients: Client[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

async function connect(options: { resources?: McpResourceProvider; catalog?: McpToolProvider }) {
  const server = createShiiooMcpServer({
    catalog: options.catalog ?? testCatalog(testTools(), testPermits),
    caller: ana,
    version: '1',
    ...(options.resources ? { resources: options.resources } : {}),
  })
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  await server.connect(serverSide)
  const client = new Client({ name: 'test', version: '1' })
  await client.connect(clientSide)
  clients.push(client)
  const updates: string[] = []
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri))
  return { client, server, updates }
}

const settle = () => new Promise((r) => setTimeout(r, 20))

describe('resources/subscribe over the provider’s watch', () => {
  it('declares subscribe only when the provider can watch', async () => {
    const { client } = await connect({ resources: watchedResources().provider })
    expect(client.getServerCapabilities()?.resources).toEqual({ subscribe: true })
    const { provider } = watchedResources()
    const plain = await connect({
      resources: { list: (...a) => provider.list(...a), read: (...a) => provider.read(...a) },
    })
    expect(plain.client.getServerCapabilities()?.resources).toEqual({})
  })

  it('sends notifications/resources/updated for each change until unsubscribed, as the session caller', async () => {
    const { provider, watches } = watchedResources()
    const { client, updates } = await connect({ resources: provider })
    await client.subscribeResource({ uri: 'r/1' })
    // subscribing again watches nothing more
    await client.subscribeResource({ uri: 'r/1' })
    expect(watches.map((w) => w.uri)).toEqual(['r/1'])
    expect(watches[0]!.who).toEqual(ana)
    watches[0]!.changed()
    watches[0]!.changed()
    await settle()
    expect(updates).toEqual(['r/1', 'r/1'])
    await client.unsubscribeResource({ uri: 'r/1' })
    expect(watches[0]!.signal.aborted).toBe(true)
    watches[0]!.changed()
    await settle()
    expect(updates).toHaveLength(2)
    // unsubscribing from what is not watched is not an error
    await client.unsubscribeResource({ uri: 'r/2' })
  })

  it('answers a resource it cannot watch with its error code, and keeps no watch', async () => {
    const { provider, watches } = watchedResources()
    const { client } = await connect({ resources: provider })
    const missing = await client.subscribeResource({ uri: 'nope' }).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(McpError)
    expect(missing).toMatchObject({ code: -32002, data: { uri: 'nope', code: 'NOT_FOUND' } })
    const fixed = await client.subscribeResource({ uri: 'r/static' }).catch((e: unknown) => e)
    expect(fixed).toMatchObject({ code: -32602, data: { code: 'INVALID_INPUT' } })
    expect(watches).toEqual([])
  })

  it('stops every watch when the session closes', async () => {
    const { provider, watches } = watchedResources()
    const { client } = await connect({ resources: provider })
    await client.subscribeResource({ uri: 'r/1' })
    await client.subscribeResource({ uri: 'r/2' })
    await client.close()
    await settle()
    expect(watches.map((w) => w.signal.aborted)).toEqual([true, true])
  })

  it(`watches at most ${MAX_SUBSCRIPTIONS} resources per session`, async () => {
    const { provider } = watchedResources()
    const { client } = await connect({ resources: provider })
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) await client.subscribeResource({ uri: `r/${i}` })
    const over = await client.subscribeResource({ uri: 'r/one-more' }).catch((e: unknown) => e)
    expect(over).toMatchObject({ code: -32603, data: { code: 'QUOTA_EXCEEDED' } })
  })
})

describe('a tool provider that answers asynchronously (an application service)', () => {
  it('lists and calls through it; a tool it does not show is unknown', async () => {
    const catalog = testCatalog(testTools(), testPermits)
    const service: McpToolProvider = {
      list: async (who) => catalog.list(who),
      get: async (who, name) => catalog.get(who, name),
      call: (name, input, context) => catalog.call(name, input, context),
    }
    const { client } = await connect({ catalog: service })
    const names = (await client.listTools()).tools.map((t) => t.name)
    expect(names).toEqual(catalog.list(ana).map((t) => t.name))
    const echoed = await client.callTool({ name: 'test.echo', arguments: { text: 'async' } })
    expect(echoed.structuredContent).toMatchObject({ text: 'async' })
    await expect(client.callTool({ name: 'no.such', arguments: {} })).rejects.toMatchObject({ code: -32602 })
  })

  it('answers a failing lookup as a JSON-RPC error without its internal message', async () => {
    const failing: McpToolProvider = {
      list: async () => [],
      get: async () => {
        throw new Error('/secret/path exploded')
      },
      call: async () => null,
    }
    const { client } = await connect({ catalog: failing })
    const err = await client.callTool({ name: 'x.y', arguments: {} }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: -32603, data: { code: 'INTERNAL' } })
    expect(String((err as Error).message)).not.toContain('/secret/path')
  })
})
