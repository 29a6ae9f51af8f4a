import { chmodSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CLI_BIN, cliCommand, dataDirArg, shellWord } from '../src/cli/command-line.js'
import { invocationFrom } from '../src/config/index.js'
import { BIN, tempDirs } from './helpers.js'

const dirs = tempDirs()
afterAll(() => dirs.cleanup())

function executable(path: string, text = '#!/bin/sh\n'): void {
  writeFileSync(path, text)
  chmodSync(path, 0o755)
}

describe('cliCommand: how printed commands start', () => {
  it('is the entry script of this CLI', () => {
    expect(realpathSync(CLI_BIN)).toBe(realpathSync(BIN))
  })

  it('is `npx shiioo` when npm started the process, whatever is on PATH', async () => {
    const dir = await dirs.make()
    symlinkSync(BIN, join(dir, 'shiioo'))
    expect(cliCommand(invocationFrom({ PATH: dir, npm_command: 'exec' }))).toBe('npx shiioo')
    expect(cliCommand(invocationFrom({ PATH: '/usr/bin', npm_command: 'start' }))).toBe('npx shiioo')
  })

  it('is `shiioo` when the first shiioo on PATH links to this CLI (npm link, a global install)', async () => {
    const dir = await dirs.make()
    symlinkSync(BIN, join(dir, 'shiioo'))
    expect(cliCommand(invocationFrom({ PATH: `/nonexistent:${dir}:/usr/bin` }))).toBe('shiioo')
  })

  it('is `shiioo` for a node_modules/.bin shim of the package that is this CLI', async () => {
    const root = await dirs.make()
    mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true })
    symlinkSync(join(BIN, '..', '..'), join(root, 'node_modules', 'shiioo'))
    executable(
      join(root, 'node_modules', '.bin', 'shiioo'),
      '#!/bin/sh\nexec node "$0/../../shiioo/bin/shiioo.js" "$@"\n',
    )
    expect(cliCommand(invocationFrom({ PATH: join(root, 'node_modules', '.bin') }))).toBe('shiioo')
  })

  it('is `node <entry script>` when the shiioo on PATH is another program, or none is', async () => {
    const other = await dirs.make()
    executable(join(other, 'shiioo'))
    const self = await dirs.make()
    symlinkSync(BIN, join(self, 'shiioo'))
    const direct = `node ${realpathSync(BIN)}`
    expect(cliCommand(invocationFrom({ PATH: `${other}:${self}` }))).toBe(direct)
    expect(cliCommand(invocationFrom({ PATH: '/nonexistent' }))).toBe(direct)
    expect(cliCommand(invocationFrom({}))).toBe(direct)
  })

  it('skips a shiioo on PATH that is not executable, as the shell does', async () => {
    const dir = await dirs.make()
    writeFileSync(join(dir, 'shiioo'), 'not a program')
    const self = await dirs.make()
    symlinkSync(BIN, join(self, 'shiioo'))
    expect(cliCommand(invocationFrom({ PATH: `${dir}:${self}` }))).toBe('shiioo')
  })

  it('quotes an entry script path that a shell would split', () => {
    expect(cliCommand(invocationFrom({}), '/no such/dir/shiioo.js')).toBe("node '/no such/dir/shiioo.js'")
    expect(shellWord("it's")).toBe(`'it'\\''s'`)
    expect(dataDirArg(undefined, '/x')).toBe('')
    expect(dataDirArg('d', '/tmp/my data')).toBe(" --data-dir '/tmp/my data'")
  })
})
