import type { Json, TenantId } from '@shiioo/core'
import { toShiiooError } from '@shiioo/core'
import type { ToolSource } from '@shiioo/mcp'
import { builtinToolSource } from '@shiioo/mcp'
import { afterEach, describe, expect, it } from 'vitest'
import type { CallerContext } from '../src/index.js'
import { localCaller } from '../src/index.js'
import { testStacks } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const alice = localCaller('alice')
const bob = localCaller('bob')
const mallory = localCaller('alice', 'acme' as TenantId)
const vera: CallerContext = { tenant: alice.tenant, actor: { kind: 'user', id: 'vera' }, roles: ['viewer'] }

/** A tool that answers the idempotency key it was handed. */
const keys: ToolSource = {
  id: 'keys',
  tools: () => [
    {
      name: 'test.key',
      description: 'answers its call’s idempotency key',
      inputSchema: { type: 'object' },
      annotations: { readOnly: false, destructive: false, idempotent: true, openWorld: true },
      requires: 'tool.call',
      call: async (_input, context) => ({ key: context.idempotencyKey }),
    },
  ],
}

async function failure(call: Promise<unknown>) {
  try {
    await call
  } catch (error) {
    const { code, message, details } = toShiiooError(error)
    return { code, message, details }
  }
  throw new Error('it did not fail')
}

describe('the tool service', () => {
  it("scopes a caller's idempotency key to its tenant, principal and tool", async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir(), { toolSources: [keys] })
    const keyOf = async (caller: CallerContext, idempotencyKey?: string) =>
      (
        (await o.tools.call(caller, {
          name: 'test.key',
          input: {},
          ...(idempotencyKey ? { idempotencyKey } : {}),
        })) as {
          key: string
        }
      ).key

    const mine = await keyOf(alice, 'retry-1')
    expect(mine).toMatch(/^call:[0-9a-f]{64}$/)
    expect(await keyOf(alice, 'retry-1')).toBe(mine)
    expect(await keyOf(bob, 'retry-1')).not.toBe(mine)
    expect(await keyOf(mallory, 'retry-1')).not.toBe(mine)
    expect(await keyOf(alice, 'retry-2')).not.toBe(mine)
    // without one, a fresh key each call
    expect(await keyOf(alice)).not.toBe(await keyOf(alice))

    for (const bad of ['', 'x'.repeat(201), 'tab\there']) {
      expect(await failure(o.tools.call(alice, { name: 'test.key', input: {}, idempotencyKey: bad }))).toMatchObject({
        code: 'INVALID_INPUT',
        details: { field: 'idempotencyKey' },
      })
    }
  })

  it('gets one tool the caller may use, and answers one it may not as one that does not exist', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir(), { toolSources: [builtinToolSource()] })
    expect(await o.tools.get(alice, 'http.fetch')).toMatchObject({ name: 'http.fetch', source: 'builtin' })
    expect(await o.tools.get(vera, 'shiioo.runs.get')).toMatchObject({ name: 'shiioo.runs.get', source: 'shiioo' })
    const hidden = await failure(o.tools.get(vera, 'http.fetch'))
    const none = await failure(o.tools.get(vera, 'http.fetcx'))
    expect(hidden).toMatchObject({ code: 'NOT_FOUND', message: 'no tool named "http.fetch"' })
    expect(JSON.stringify(hidden).replaceAll('fetch', 'fetcx')).toBe(JSON.stringify(none))
    expect((await o.tools.list(vera)).map((t) => t.name)).not.toContain('http.fetch')
    const audited = (await o.audit.list(alice)).items as Array<{ action: string }>
    expect(audited.filter((e) => e.action === 'tool.list')).toEqual([])
    const input: Json = {}
    expect(await o.tools.call(alice, { name: 'core.echo', input })).toEqual({})
  })
})
