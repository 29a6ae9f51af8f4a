import { accessSync, constants, realpathSync, statSync } from 'node:fs'
import { basename, delimiter, dirname, isAbsolute, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Invocation } from '../config/index.js'

/** This CLI's entry script, `apps/server/bin/shiioo.js` (this module is `dist/cli/command-line.js`). */
export const CLI_BIN = fileURLToPath(new URL('../../bin/shiioo.js', import.meta.url))

/** A word as a POSIX shell reads it back: quoted when it holds anything but plain characters. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}

/** ` --data-dir <path>` when the command was given one, so that a printed command reaches the same data. */
export function dataDirArg(given: string | undefined, resolved: string): string {
  return given === undefined ? '' : ` --data-dir ${shellWord(resolved)}`
}

function realpath(path: string): string | null {
  try {
    return realpathSync(path)
  } catch {
    return null
  }
}

/** The first executable `name` on PATH, as PATH names it. */
function onPath(name: string, path: string): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue
    const candidate = join(dir, name)
    try {
      if (!statSync(candidate).isFile()) continue
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not there, or not executable: the shell would look further too
    }
  }
  return null
}

/**
 * Whether `found` runs this CLI: a link to its entry script (npm link, a global install), or a
 * package manager's bin shim in `node_modules/.bin` whose package `shiioo` is this one.
 */
function runsThisCli(found: string, bin: string): boolean {
  const target = realpath(bin)
  if (target === null) return false
  if (realpath(found) === target) return true
  const dir = dirname(found)
  return basename(dir) === '.bin' && realpath(join(dir, '..', 'shiioo', 'bin', 'shiioo.js')) === target
}

/**
 * How a command printed for a person to paste starts, so that it runs this same CLI there; every
 * hint the CLI prints (`... decide <run> <step> approve`, `... resume`) starts with it:
 * - `npx shiioo` when npm started this process (npx, `npm start`): npm put its own folders first
 *   on PATH, so PATH tells nothing of the person's shell, and `npx shiioo` is how they ran it;
 * - `shiioo` when the first `shiioo` on PATH is this CLI;
 * - otherwise `node <this CLI's entry script>`, which runs from any directory.
 */
export function cliCommand(invocation: Invocation, bin: string = CLI_BIN): string {
  if (invocation.npmCommand !== undefined) return 'npx shiioo'
  const found = onPath('shiioo', invocation.path)
  if (found !== null && runsThisCli(found, bin)) return 'shiioo'
  return `node ${shellWord(realpath(bin) ?? bin)}`
}
