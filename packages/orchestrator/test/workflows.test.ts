import { afterEach, describe, expect, it } from 'vitest'
import { parseTenantId } from '@shiioo/core'
import { localCaller } from '../src/index.js'
import { testStacks } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const admin = localCaller('admin')
const other = localCaller('admin', parseTenantId('acme'))
const echo = (n: number) => ({
  definition: { name: 'echo', steps: [{ id: 'say', kind: 'tool', tool: 'core.echo', input: { n } }] },
})
const noop = { definition: { name: 'noop', steps: [{ id: 'nothing', kind: 'tool', tool: 'core.noop' }] } }

describe('registered workflows: a control stream folded into the index', () => {
  it('lists what any process registered from the index, per tenant, also after the index is rebuilt', async () => {
    const dir = await stacks.tempDir()
    const a = stacks.open(dir, { dataDir: { assertExclusive: () => undefined, discardIndex: async () => undefined } })
    const b = stacks.open(dir) // another process on the same data dir
    await a.orchestrator.workflows.register(admin, echo(1))
    const second = await a.orchestrator.workflows.register(admin, echo(2))
    await a.orchestrator.workflows.register(admin, noop)
    await b.orchestrator.workflows.register(other, noop)
    const expected = [
      { name: 'echo', hash: second.hash, versions: [{ current: false }, { hash: second.hash, current: true }] },
      { name: 'noop', versions: [{ current: true }] },
    ]
    // b reads a's registrations through the feed into its index, and the rows, not the stream, answer
    expect(await b.orchestrator.workflows.list(admin)).toMatchObject(expected)
    expect(await b.index.rows({ projection: 'workflows', tenant: admin.tenant })).toHaveLength(2)
    expect((await b.orchestrator.workflows.list(other)).map((w) => w.name)).toEqual(['noop'])
    // the index is rebuildable: emptied, then folded again from the streams
    await b.close()
    await a.index.reset()
    expect(await a.index.rows({ projection: 'workflows', tenant: admin.tenant })).toEqual([])
    await a.orchestrator.data.rebuildIndex(admin)
    expect(await a.orchestrator.workflows.list(admin)).toMatchObject(expected)
  })
})
