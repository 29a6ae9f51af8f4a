import { DEFAULT_TENANT, ShiiooError, type Json } from '@shiioo/core'
import { describe, expect, it } from 'vitest'
import { createToolCatalog } from './catalog.js'
import type { Permits, ToolCallContext, ToolCaller, ToolDefinition, ToolSource } from './types.js'

const ana: ToolCaller = { tenant: DEFAULT_TENANT, actor: 'user:ana', roles: ['operator'] }
const bob: ToolCaller = { tenant: DEFAULT_TENANT, actor: 'user:bob', roles: ['viewer'] }
const context = (caller = ana, signal = new AbortController().signal): ToolCallContext => ({
  caller,
  signal,
  idempotencyKey: 'key-1',
})
/** Operators may do anything; viewers only `run.read`. */
const permits: Permits = (caller, action) => caller.roles.includes('operator') || action === 'run.read'

function tool(name: string, overrides: Partial<ToolDefinition> = {}): ToolDefinition & { calls: Json[] } {
  const calls: Json[] = []
  return {
    name,
    description: `the ${name} tool`,
    inputSchema: { type: 'object' },
    annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
    requires: 'tool.call',
    call: async (input) => {
      calls.push(input)
      return { ok: true }
    },
    ...overrides,
    calls,
  }
}

function source(id: string, tools: ToolDefinition[], hooks: Partial<ToolSource> = {}): ToolSource {
  return { id, tools: () => tools, ...hooks }
}

/** The ShiiooError `promise` fails with (a success or another error fails the test). */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected a ShiiooError'),
    (error: unknown) => (expect(error).toBeInstanceOf(ShiiooError), error as ShiiooError),
  )

describe('createToolCatalog', () => {
  it('lists the granted tools of every source sorted by name, with their source', async () => {
    const catalog = await createToolCatalog({
      sources: [
        source('b', [tool('zeta.last'), tool('run.get', { requires: 'run.read', title: 'Get a run' })]),
        source('a', [tool('alpha.first')]),
      ],
      permits,
    })
    expect(catalog.list(ana).map((t) => [t.name, t.source])).toEqual([
      ['alpha.first', 'a'],
      ['run.get', 'b'],
      ['zeta.last', 'b'],
    ])
    expect(catalog.list(bob).map((t) => t.name)).toEqual(['run.get'])
    expect(catalog.get(bob, 'run.get')).toMatchObject({ title: 'Get a run', source: 'b' })
    expect(catalog.get(bob, 'zeta.last')).toBeUndefined()
    expect(catalog.get(ana, 'nope.tool')).toBeUndefined()
  })

  it('refuses a name two sources offer, naming it and both sources, and closes what it started', async () => {
    let closed = 0
    const error = await failure(
      createToolCatalog({
        sources: [
          source('builtin', [tool('http.fetch')], { start: async () => undefined, close: async () => void closed++ }),
          source('mcp:web', [tool('http.fetch')]),
        ],
        permits,
      }),
    )
    expect(error.code).toBe('CONFLICT')
    expect(error.message).toContain('http.fetch')
    expect(error.message).toContain('builtin')
    expect(error.message).toContain('mcp:web')
    expect(closed).toBe(1)
  })

  it.each(['nodot', '.leading', 'trailing.', 'two..dots', 'sp ace.x', 'slash/x.y', `a.${'x'.repeat(127)}`])(
    'refuses the tool name %j',
    async (name) => {
      const error = await failure(createToolCatalog({ sources: [source('s', [tool(name)])], permits }))
      expect(error.code).toBe('INVALID_INPUT')
      expect(error.details).toMatchObject({ source: 's' })
    },
  )

  it('accepts names with digits, dashes, underscores and several dots', async () => {
    const names = ['shiioo.run.get', 'github.search_issues', 'a-b.c-1', `a.${'x'.repeat(126)}`]
    const catalog = await createToolCatalog({
      sources: [
        source(
          's',
          names.map((n) => tool(n)),
        ),
      ],
      permits,
    })
    expect(catalog.list(ana)).toHaveLength(4)
  })

  it('starts sources before reading their tools and refuses to start when one fails', async () => {
    const order: string[] = []
    const started = source('ok', [tool('ok.tool')], {
      start: async () => void order.push('start ok'),
      close: async () => void order.push('close ok'),
    })
    const late: ToolSource = {
      id: 'late',
      start: async () => void order.push('start late'),
      tools: () => (order.push('tools late'), [tool('late.tool')]),
    }
    const catalog = await createToolCatalog({ sources: [started, late], permits })
    expect(order).toEqual(['start ok', 'start late', 'tools late'])
    await catalog.close()
    await catalog.close()
    expect(order.filter((o) => o === 'close ok')).toHaveLength(1)

    order.length = 0
    const broken = source('broken', [], { start: async () => Promise.reject(new Error('no server')) })
    const error = await failure(createToolCatalog({ sources: [started, broken], permits }))
    expect(error.message).toContain('no server')
    expect(order).toContain('close ok')
  })

  it('keeps serving when a prefixed source cannot start: its calls are UNAVAILABLE and retryable until it starts', async () => {
    let starts = 0
    const save = tool('notes.save')
    const notes = source('mcp:notes', [save], {
      prefix: 'notes',
      start: () =>
        ++starts < 3 ? Promise.reject(new ShiiooError('UNAVAILABLE', 'spawn notes ENOENT')) : Promise.resolve(),
    })
    const catalog = await createToolCatalog({
      sources: [source('builtin', [tool('core.echo')]), notes],
      permits,
      retryMs: 0,
    })
    expect(catalog.list(ana).map((t) => t.name)).toEqual(['core.echo'])
    expect(catalog.unavailable?.()).toEqual([{ source: 'mcp:notes', error: 'spawn notes ENOENT' }])
    expect(await catalog.call('core.echo', {}, context())).toEqual({ ok: true })
    const down = await failure(catalog.call('notes.save', {}, context()))
    expect(down).toMatchObject({ code: 'UNAVAILABLE', retryable: true })
    expect(down.message).toMatch(/mcp:notes is unavailable, so notes\.save cannot be called: spawn notes ENOENT/)
    // the third start succeeds: the call goes through and the tools are listed from then on
    expect(await catalog.call('notes.save', {}, context())).toEqual({ ok: true })
    expect(starts).toBe(3)
    expect(catalog.list(ana).map((t) => t.name)).toEqual(['core.echo', 'notes.save'])
    expect(catalog.unavailable?.()).toEqual([])
    // a name under no source is still NOT_FOUND
    expect(await failure(catalog.call('other.x', {}, context()))).toMatchObject({ code: 'NOT_FOUND' })
  })

  it('refuses a call the caller is not granted, naming the action, without running the tool', async () => {
    const fetch = tool('http.fetch')
    const catalog = await createToolCatalog({ sources: [source('s', [fetch])], permits })
    const error = await failure(catalog.call('http.fetch', {}, context(bob)))
    expect(error.code).toBe('FORBIDDEN')
    expect(error.message).toContain('tool.call')
    expect(error.details).toEqual({ tool: 'http.fetch', action: 'tool.call' })
    expect(fetch.calls).toEqual([])
    await expect(catalog.call('http.fetch', { a: 1 }, context(ana))).resolves.toEqual({ ok: true })
    expect(fetch.calls).toEqual([{ a: 1 }])
  })

  it('answers NOT_FOUND with close matches among the tools the caller may see', async () => {
    const tools = ['http.fetch', 'files.read', 'files.list', 'run.get'].map((n) =>
      tool(n, n === 'run.get' ? { requires: 'run.read' } : {}),
    )
    const catalog = await createToolCatalog({ sources: [source('s', [...tools, tool('http.fetcher')])], permits })
    const typo = await failure(catalog.call('http.fecth', {}, context()))
    expect(typo.code).toBe('NOT_FOUND')
    expect(typo.details.suggestions).toEqual(['http.fetch'])
    const short = await failure(catalog.call('http.fetc', {}, context()))
    expect(short.details.suggestions).toEqual(['http.fetch', 'http.fetcher'])
    expect(short.message).toBe('no tool named "http.fetc" (did you mean http.fetch, http.fetcher?)')

    const files = await failure(catalog.call('files.raed', {}, context()))
    expect(files.details.suggestions).toEqual(['files.read'])

    const far = await failure(catalog.call('something.else', {}, context()))
    expect(far.details.suggestions).toEqual([])
    expect(far.message).toBe('no tool named "something.else"')

    // bob may not see http.fetch, so it is not suggested to him
    const hidden = await failure(catalog.call('http.fecth', {}, context(bob)))
    expect(hidden.details.suggestions).toEqual([])
    const granted = await failure(catalog.call('run.gte', {}, context(bob)))
    expect(granted.details.suggestions).toEqual(['run.get'])
  })

  it('validates the input before the tool runs, naming the first bad field', async () => {
    const fetch = tool('web.fetch', {
      inputSchema: {
        type: 'object',
        properties: {
          url: { type: 'string' },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
          items: { type: 'array', items: { type: 'object', properties: { 'a-b': { type: 'integer' } } } },
        },
        required: ['url'],
        additionalProperties: false,
      },
    })
    const catalog = await createToolCatalog({ sources: [source('s', [fetch])], permits })
    const cases: [Json, string][] = [
      [{ url: 42 }, 'web.fetch: input.url: must be string'],
      [{}, 'web.fetch: input.url: is required'],
      [{ url: 'x', extra: true }, 'web.fetch: input.extra: is not an accepted field'],
      [{ url: 'x', headers: { accept: 1 } }, 'web.fetch: input.headers.accept: must be string'],
      [{ url: 'x', items: [{ 'a-b': 1 }, { 'a-b': 'no' }] }, 'web.fetch: input.items[1]["a-b"]: must be integer'],
      ['a string', 'web.fetch: input: must be object'],
    ]
    for (const [input, message] of cases) {
      const error = await failure(catalog.call('web.fetch', input, context()))
      expect(error.code).toBe('INVALID_INPUT')
      expect(error.message).toBe(message)
      expect(error.details.field).toBe(message.split(': ')[1])
      expect((error.details.errors as unknown[]).length).toBeGreaterThan(0)
    }
    expect(fetch.calls).toEqual([])
    await expect(catalog.call('web.fetch', { url: 'https://example.com' }, context())).resolves.toEqual({ ok: true })
    expect(fetch.calls).toHaveLength(1)
  })

  it('compiles draft-07 schemas of external servers and refuses a schema that cannot compile', async () => {
    const draft7 = tool('ext.tool', {
      inputSchema: {
        type: 'object',
        $schema: 'http://json-schema.org/draft-07/schema#',
        properties: { n: { type: 'number' } },
      },
    })
    const catalog = await createToolCatalog({ sources: [source('mcp:ext', [draft7])], permits })
    expect((await failure(catalog.call('ext.tool', { n: 'x' }, context()))).message).toContain(
      'input.n: must be number',
    )

    const broken = tool('ext.broken', { inputSchema: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } })
    const error = await failure(createToolCatalog({ sources: [source('mcp:ext', [broken])], permits }))
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.message).toContain('ext.broken')
  })

  it('stops waiting for a tool when the call is aborted, and does not start one already aborted', async () => {
    const hang = tool('slow.tool', { call: () => new Promise<Json>(() => undefined) })
    const catalog = await createToolCatalog({ sources: [source('s', [hang])], permits })
    const controller = new AbortController()
    const pending = catalog.call('slow.tool', {}, context(ana, controller.signal))
    controller.abort()
    const error = await failure(pending)
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.retryable).toBe(false)
    expect(error.details.kind).toBe('aborted')

    const reason = new ShiiooError('UNAVAILABLE', 'step timed out', { details: { kind: 'timeout' } })
    const record = tool('record.tool')
    const other = await createToolCatalog({ sources: [source('s', [record])], permits })
    expect(await failure(other.call('record.tool', {}, context(ana, AbortSignal.abort(reason))))).toBe(reason)
    expect(record.calls).toEqual([])
  })

  it('passes a tool failure through and wraps anything else as INTERNAL', async () => {
    const refused = new ShiiooError('FORBIDDEN', 'host refused')
    const tools = [
      tool('fail.shiioo', { call: () => Promise.reject(refused) }),
      tool('fail.plain', { call: () => Promise.reject(new TypeError('boom')) }),
    ]
    const catalog = await createToolCatalog({ sources: [source('s', tools)], permits })
    expect(await failure(catalog.call('fail.shiioo', {}, context()))).toBe(refused)
    const wrapped = await failure(catalog.call('fail.plain', {}, context()))
    expect(wrapped.code).toBe('INTERNAL')
    expect(wrapped.message).toBe('boom')
  })

  it('refuses two sources with one id', async () => {
    const error = await failure(createToolCatalog({ sources: [source('s', []), source('s', [])], permits }))
    expect(error.code).toBe('CONFLICT')
  })
})
