import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_TENANT, ShiiooError, type Json } from '@shiioo/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createToolCatalog } from '../catalog/catalog.js'
import { filesTools, type FilesOptions } from './files.js'

let dir = ''
const EURO = `${'x'.repeat(9)}€yyyy` // € is bytes 9, 10 and 11

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shiioo-files-'))
  const ws = join(dir, 'ws')
  await mkdir(join(ws, 'sub', 'deeper'), { recursive: true })
  await mkdir(join(dir, 'outside'))
  await mkdir(join(dir, 'docs'))
  await writeFile(join(ws, 'a.txt'), 'hello')
  await writeFile(join(ws, 'euro.txt'), EURO)
  await writeFile(join(ws, 'sub', 'b.txt'), 'inside b')
  await writeFile(join(ws, 'sub', 'deeper', 'c.txt'), 'ccc')
  await writeFile(join(ws, 'bin.dat'), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00]))
  await writeFile(join(ws, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x21]))
  await writeFile(join(dir, 'outside', 'secret.txt'), 'top secret')
  await writeFile(join(dir, 'docs', 'readme.md'), '# docs')
  await symlink(join(ws, 'sub', 'b.txt'), join(ws, 'link-inside'))
  await symlink('../outside/secret.txt', join(ws, 'link-outside'))
  await symlink(join(dir, 'outside'), join(ws, 'dir-outside'))
  await symlink('sub', join(ws, 'dir-inside'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const caller = { tenant: DEFAULT_TENANT, actor: 'agent:run/step', roles: [] }

async function files(options: Partial<FilesOptions> = {}) {
  const roots = [
    { name: 'ws', path: join(dir, 'ws') },
    { name: 'docs', path: join(dir, 'docs') },
  ]
  const tools = filesTools({ roots, ...options })
  const catalog = await createToolCatalog({ sources: [{ id: 'builtin', tools: () => tools }], permits: () => true })
  const call = (name: string) => (input: Json) =>
    catalog.call(name, input, { caller, signal: new AbortController().signal, idempotencyKey: 'k' }) as Promise<
      Record<string, Json>
    >
  return { read: call('files.read'), list: call('files.list') }
}

/** The ShiiooError `promise` fails with (a success or another error fails the test). */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected a ShiiooError'),
    (error: unknown) => (expect(error).toBeInstanceOf(ShiiooError), error as ShiiooError),
  )

describe('files.read', () => {
  it('reads a text file under its root name', async () => {
    const { read } = await files()
    expect(await read({ path: 'ws/a.txt' })).toEqual({
      path: 'ws/a.txt',
      offset: 0,
      bytes: 5,
      size: 5,
      truncated: false,
      text: 'hello',
    })
    expect((await read({ path: 'ws/./sub/../a.txt' })).path).toBe('ws/a.txt')
    expect((await read({ path: 'docs/readme.md' })).text).toBe('# docs')
  })

  it.each(['ws/../outside/secret.txt', 'ws/sub/../../outside/secret.txt', '../outside/secret.txt', '..', 'ws/..'])(
    'refuses %s as leading outside its root',
    async (path) => {
      const error = await failure((await files()).read({ path }))
      expect(error.code).toBe('FORBIDDEN')
      expect(error.message).toContain(path)
      expect(error.message).not.toContain(dir)
    },
  )

  it('does not decode escapes: an encoded .. is a name that does not exist', async () => {
    const error = await failure((await files()).read({ path: 'ws/%2e%2e/outside/secret.txt' }))
    expect(error.code).toBe('NOT_FOUND')
  })

  it('refuses absolute paths, backslashes and NUL bytes as bad input', async () => {
    const { read } = await files()
    for (const path of [
      '/etc/passwd',
      join(dir, 'outside', 'secret.txt'),
      'C:/Windows/win.ini',
      'ws\\..\\..\\x',
      'ws/a.txt\0.png',
    ]) {
      const error = await failure(read({ path }))
      expect(error.code).toBe('INVALID_INPUT')
    }
  })

  it('refuses a symbolic link out of the root without saying where it leads, and follows one inside', async () => {
    const { read } = await files()
    for (const path of ['ws/link-outside', 'ws/dir-outside/secret.txt']) {
      const error = await failure(read({ path }))
      expect(error.code).toBe('FORBIDDEN')
      expect(error.message).toContain(path)
      expect(error.message).not.toContain(dir)
      expect(error.message).not.toContain('top secret')
      expect(JSON.stringify(error.details)).not.toContain(dir)
    }
    expect(await read({ path: 'ws/link-inside' })).toMatchObject({ path: 'ws/link-inside', text: 'inside b' })
    expect(await read({ path: 'ws/dir-inside/b.txt' })).toMatchObject({ text: 'inside b' })
  })

  it('refuses binary files: NUL bytes or bytes that are not UTF-8', async () => {
    const { read } = await files()
    for (const path of ['ws/bin.dat', 'ws/latin1.txt']) {
      const error = await failure(read({ path }))
      expect(error.code).toBe('INVALID_INPUT')
      expect(error.message).toContain('binary file')
    }
  })

  it('reads at most maxBytes, ending on a character, and pages on from offset + bytes', async () => {
    const { read } = await files({ maxBytes: 10 })
    const first = await read({ path: 'ws/euro.txt' })
    expect(first).toMatchObject({ offset: 0, bytes: 9, size: 16, truncated: true, text: 'x'.repeat(9) })
    const second = await read({ path: 'ws/euro.txt', offset: 9 })
    expect(second).toMatchObject({ offset: 9, bytes: 7, truncated: false, text: '€yyyy' })
    // an offset inside a character starts at the next one
    expect(await read({ path: 'ws/euro.txt', offset: 10 })).toMatchObject({ offset: 12, text: 'yyyy' })
    // a call may ask for less (4 bytes at least, a whole character), never for more
    expect(await read({ path: 'ws/a.txt', maxBytes: 2 })).toMatchObject({ text: 'hell', bytes: 4, truncated: true })
    expect((await read({ path: 'ws/euro.txt', maxBytes: 1000 })).bytes).toBe(9)
    expect(await read({ path: 'ws/a.txt', offset: 99 })).toMatchObject({ bytes: 0, text: '', truncated: false })
  })

  it('answers NOT_FOUND for an unknown root or a missing file, and refuses directories', async () => {
    const { read } = await files()
    const root = await failure(read({ path: 'nope/a.txt' }))
    expect(root.code).toBe('NOT_FOUND')
    expect(root.message).toContain('roots: ws, docs')
    expect((await failure(read({ path: 'ws/missing.txt' }))).code).toBe('NOT_FOUND')
    expect((await failure(read({ path: 'ws/a.txt/x' }))).code).toBe('NOT_FOUND')
    const directory = await failure(read({ path: 'ws/sub' }))
    expect(directory.code).toBe('INVALID_INPUT')
    expect(directory.message).toContain('files.list')
  })
})

describe('files.list', () => {
  it('lists a directory sorted, symbolic links as links', async () => {
    const { list } = await files()
    const out = await list({ path: 'ws' })
    expect(out.truncated).toBe(false)
    expect(out.entries).toEqual([
      { path: 'ws/a.txt', type: 'file', size: 5 },
      { path: 'ws/bin.dat', type: 'file', size: 6 },
      { path: 'ws/dir-inside', type: 'symlink', size: 0 },
      { path: 'ws/dir-outside', type: 'symlink', size: 0 },
      { path: 'ws/euro.txt', type: 'file', size: 16 },
      { path: 'ws/latin1.txt', type: 'file', size: 5 },
      { path: 'ws/link-inside', type: 'symlink', size: 0 },
      { path: 'ws/link-outside', type: 'symlink', size: 0 },
      { path: 'ws/sub', type: 'dir', size: 0 },
    ])
  })

  it('lists recursively without following links, and lists the roots without a path', async () => {
    const { list } = await files()
    const paths = ((await list({ path: 'ws/sub', recursive: true })).entries as { path: string }[]).map((e) => e.path)
    expect(paths).toEqual(['ws/sub/b.txt', 'ws/sub/deeper', 'ws/sub/deeper/c.txt'])
    const all = ((await list({ recursive: true })).entries as { path: string }[]).map((e) => e.path)
    expect(all).toContain('ws/sub/deeper/c.txt')
    expect(all).toContain('docs/readme.md')
    expect(all.some((p) => p.includes('secret'))).toBe(false)
    expect(await list({})).toEqual({
      entries: [
        { path: 'ws', type: 'dir', size: 0 },
        { path: 'docs', type: 'dir', size: 0 },
      ],
      truncated: false,
    })
  })

  it('stops at maxEntries and says so', async () => {
    const { list } = await files({ maxEntries: 4 })
    const out = await list({ path: 'ws', recursive: true })
    expect(out.truncated).toBe(true)
    expect(out.entries).toHaveLength(4)
    const fewer = await list({ path: 'ws', maxEntries: 2 })
    expect(fewer).toMatchObject({ truncated: true })
    expect(fewer.entries).toHaveLength(2)
    expect((await list({ path: 'ws/sub', maxEntries: 100 })).entries).toHaveLength(2)
    expect(await list({ path: 'ws/sub/deeper', maxEntries: 1 })).toMatchObject({ truncated: false })
  })

  it('refuses escapes and a path that is not a directory', async () => {
    const { list } = await files()
    for (const path of ['ws/dir-outside', 'ws/..', 'ws/sub/../../outside']) {
      expect((await failure(list({ path }))).code).toBe('FORBIDDEN')
    }
    expect((await list({ path: 'ws/dir-inside' })).entries).toHaveLength(2)
    expect((await failure(list({ path: 'ws/a.txt' }))).code).toBe('INVALID_INPUT')
  })
})

describe('files options', () => {
  it('takes a root given through a symbolic link as the directory it names', async () => {
    const [read] = filesTools({ roots: [{ name: 'via', path: join(dir, 'ws', 'dir-inside') }] })
    const call = (path: string) =>
      read!.call({ path }, { caller, signal: new AbortController().signal, idempotencyKey: 'k' })
    expect(await call('via/b.txt')).toMatchObject({ path: 'via/b.txt', text: 'inside b' })
    expect((await failure(call('via/../a.txt'))).code).toBe('FORBIDDEN')
  })

  it('refuses bad root names and limits, and offers no tool without a root', () => {
    expect(() => filesTools({ roots: [{ name: 'a/b', path: dir }] })).toThrow(/a\/b/)
    expect(() =>
      filesTools({
        roots: [
          { name: 'a', path: dir },
          { name: 'a', path: dir },
        ],
      }),
    ).toThrow(/unique/)
    expect(() => filesTools({ roots: [{ name: 'a', path: dir }], maxEntries: 0 })).toThrow(/maxEntries/)
    expect(filesTools({ roots: [] })).toEqual([])
  })
})
