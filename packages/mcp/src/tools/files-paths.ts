import { realpath, stat } from 'node:fs/promises'
import { isAbsolute, join, resolve, sep } from 'node:path'
import { ShiiooError } from '@shiioo/core'

/** A directory the files tools may read, under the name paths start with. */
export interface FileRoot {
  name: string
  path: string
}

/**
 * A path as the files tools take it: `<root name>/<path inside the root>` with `/` between parts,
 * resolved to the real path it names after every symbolic link, and proven to lie inside the
 * root's own real path.
 */
export interface ResolvedPath {
  /** The path as answered to the caller: `<root>/<parts>`, `.` and `..` resolved. */
  shown: string
  /** The real path on disk (never shown: it may say where the root lives). */
  real: string
}

const ROOT_NAME = /^[A-Za-z0-9_-]{1,64}$/

/** Checks the configured roots (names unique and plain, paths made absolute). */
export function checkRoots(roots: readonly FileRoot[]): FileRoot[] {
  const seen = new Set<string>()
  return roots.map(({ name, path }) => {
    if (!ROOT_NAME.test(name) || seen.has(name)) {
      throw new ShiiooError(
        'INVALID_INPUT',
        `files roots: ${JSON.stringify(name)} is not a unique name of letters, digits, '_' and '-'`,
        {
          details: { option: 'roots', root: name },
        },
      )
    }
    seen.add(name)
    return { name, path: resolve(path) }
  })
}

/**
 * Resolves `path` under `roots`: INVALID_INPUT for a malformed path (empty, absolute, a NUL byte, a
 * backslash), NOT_FOUND for an unknown root or nothing there, FORBIDDEN when `..` or a symbolic
 * link leads outside the root (naming the path as given, never where it leads).
 */
export async function resolvePath(roots: readonly FileRoot[], path: string): Promise<ResolvedPath> {
  if (path.includes('\0')) throw invalid('input.path: holds a NUL byte')
  if (path.includes('\\')) throw invalid(`input.path: ${JSON.stringify(path)} holds a backslash (use / between parts)`)
  if (path.startsWith('/') || isAbsolute(path) || /^[A-Za-z]:/.test(path)) {
    throw invalid(`input.path: ${JSON.stringify(path)} is absolute; paths are <root>/<path> (roots: ${names(roots)})`)
  }
  const parts: string[] = []
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue
    if (part !== '..') parts.push(part)
    else if (parts.length <= 1) throw outside(path)
    else parts.pop()
  }
  const [rootName, ...inside] = parts
  if (rootName === undefined) throw invalid(`input.path: empty; paths are <root>/<path> (roots: ${names(roots)})`)
  const root = roots.find((r) => r.name === rootName)
  if (root === undefined) {
    throw new ShiiooError('NOT_FOUND', `files: no root named ${JSON.stringify(rootName)} (roots: ${names(roots)})`, {
      details: { path, roots: roots.map((r) => r.name) },
    })
  }
  const shown = parts.join('/')
  const rootReal = await realRoot(root)
  const real = await realpath(join(rootReal, ...inside)).catch((error: unknown) => {
    throw fileError(error, shown)
  })
  const prefix = rootReal.endsWith(sep) ? rootReal : `${rootReal}${sep}`
  if (real !== rootReal && !real.startsWith(prefix)) throw outside(shown)
  return { shown, real }
}

/** The failure of a file system call on `shown`, naming only that path. */
export function fileError(error: unknown, shown: string): ShiiooError {
  const code = (error as { code?: unknown } | null)?.code
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new ShiiooError('NOT_FOUND', `files: nothing at ${shown}`, { details: { path: shown } })
    case 'EACCES':
    case 'EPERM':
      return new ShiiooError('FORBIDDEN', `files: permission denied for ${shown}`, { details: { path: shown } })
    case 'ELOOP':
      return invalid(`input.path: ${shown} is a loop of symbolic links`)
    default:
      return new ShiiooError(
        'UNAVAILABLE',
        `files: ${shown} cannot be read (${typeof code === 'string' ? code : 'unknown error'})`,
        {
          details: { path: shown, ...(typeof code === 'string' ? { errno: code } : {}) },
        },
      )
  }
}

export function invalid(message: string): ShiiooError {
  return new ShiiooError('INVALID_INPUT', `files: ${message}`)
}

async function realRoot(root: FileRoot): Promise<string> {
  try {
    const real = await realpath(root.path)
    if ((await stat(real)).isDirectory()) return real
  } catch {
    // answered below, without the root's path
  }
  throw new ShiiooError('UNAVAILABLE', `files: the root ${root.name} is not a readable directory`, {
    retryable: false,
    details: { root: root.name },
  })
}

function outside(path: string): ShiiooError {
  return new ShiiooError('FORBIDDEN', `files: ${JSON.stringify(path)} leads outside its root`, {
    details: { path, reason: 'outside_root' },
  })
}

function names(roots: readonly FileRoot[]): string {
  return roots.map((r) => r.name).join(', ')
}
