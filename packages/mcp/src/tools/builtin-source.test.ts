import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_TENANT } from '@shiioo/core'
import { describe, expect, it } from 'vitest'
import { createToolCatalog } from '../catalog/catalog.js'
import { builtinToolSource } from './builtin-source.js'

const caller = { tenant: DEFAULT_TENANT, actor: 'user:ana', roles: [] }
const names = (source: ReturnType<typeof builtinToolSource>) => source.tools().map((t) => t.name)

describe('builtinToolSource', () => {
  it('holds core.*, http.fetch unless turned off, and files.* only with a root', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shiioo-builtin-'))
    try {
      expect(builtinToolSource().id).toBe('builtin')
      expect(names(builtinToolSource())).toEqual(['core.echo', 'core.noop', 'http.fetch'])
      expect(names(builtinToolSource({ http: false, files: { roots: [] } }))).toEqual(['core.echo', 'core.noop'])
      expect(names(builtinToolSource({ http: false, files: { roots: [{ name: 'data', path: dir }] } }))).toEqual([
        'core.echo',
        'core.noop',
        'files.read',
        'files.list',
      ])
      for (const tool of builtinToolSource({ files: { roots: [{ name: 'data', path: dir }] } }).tools()) {
        expect(tool.requires).toBe('tool.call')
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('fails at creation on a bad option', () => {
    expect(() => builtinToolSource({ http: { maxRedirects: -1 } })).toThrow(/maxRedirects/)
  })

  it('answers core.echo with its input and core.noop with {} through a catalog', async () => {
    const catalog = await createToolCatalog({ sources: [builtinToolSource({ http: false })], permits: () => true })
    const context = { caller, signal: new AbortController().signal, idempotencyKey: 'k' }
    const input = { a: [1, 'two', { three: null }] }
    expect(await catalog.call('core.echo', input, context)).toEqual(input)
    expect(await catalog.call('core.noop', { ignored: true }, context)).toEqual({})
    expect(catalog.list(caller).map((t) => [t.name, t.annotations.readOnly])).toEqual([
      ['core.echo', true],
      ['core.noop', true],
    ])
    const denied = await createToolCatalog({ sources: [builtinToolSource({ http: false })], permits: () => false })
    expect(denied.list(caller)).toEqual([])
  })
})
