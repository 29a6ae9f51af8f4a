import { constants } from 'node:fs'
import { lstat, open, opendir } from 'node:fs/promises'
import { join } from 'node:path'
import { ShiiooError, type Json } from '@shiioo/core'
import { abortedError } from '../abort.js'
import type { ToolAnnotations, ToolDefinition } from '../catalog/types.js'
import { checkRoots, fileError, invalid, resolvePath, type FileRoot } from './files-paths.js'
import { continuationBytes, looksLikeUtf8Text, utf8Boundary } from './utf8.js'

/** What the files tools may read (`[tools.files]` in shiioo.toml). */
export interface FilesOptions {
  /** The directories readable, each under a name: paths are `<name>/<path inside it>`. */
  roots: readonly FileRoot[]
  /** The most bytes one files.read answers; a call may ask for fewer. Default 1 MiB. */
  maxBytes?: number
  /** The most entries one files.list answers; a call may ask for fewer. Default 1,000. */
  maxEntries?: number
}

export const FILES_DEFAULTS = { maxBytes: 1024 * 1024, maxEntries: 1000 } as const

/** How many leading bytes of a file decide whether it is text. */
const SNIFF_BYTES = 8192

const READ_ONLY: ToolAnnotations = { readOnly: true, destructive: false, idempotent: true, openWorld: false }

type EntryType = 'file' | 'dir' | 'symlink' | 'other'
type Entry = { path: string; type: EntryType; size: number }

/** `files.read` and `files.list` over `options.roots`; none without a root. */
export function filesTools(options: FilesOptions): ToolDefinition[] {
  const roots = checkRoots(options.roots)
  if (roots.length === 0) return []
  const maxBytes = options.maxBytes ?? FILES_DEFAULTS.maxBytes
  const maxEntries = options.maxEntries ?? FILES_DEFAULTS.maxEntries
  for (const [option, value] of [
    ['maxBytes', maxBytes],
    ['maxEntries', maxEntries],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ShiiooError('INVALID_INPUT', `files option ${option} must be a positive integer, not ${value}`, {
        details: { option },
      })
    }
  }
  const rootNames = roots.map((r) => r.name).join(', ')
  const pathHelp = `A path is <root>/<path inside it>, with / between parts; the roots are: ${rootNames}.`
  return [
    {
      name: 'files.read',
      title: 'Read a text file',
      description: `Reads a UTF-8 text file, at most ${maxBytes} bytes from offset (truncated: true beyond; the next part starts at offset + bytes). Binary files are refused. ${pathHelp}`,
      inputSchema: {
        type: 'object',
        properties: {
          path: { type: 'string', minLength: 1, maxLength: 4096 },
          maxBytes: { type: 'integer', minimum: 1 },
          offset: { type: 'integer', minimum: 0, description: 'A byte offset; default 0.' },
        },
        required: ['path'],
        additionalProperties: false,
      },
      annotations: READ_ONLY,
      requires: 'tool.call',
      call: async (input) => {
        const { path, offset, maxBytes: wanted } = input as { path: string; offset?: number; maxBytes?: number }
        // at least 4 bytes, so one part always holds a whole character and paging moves on
        return readText(roots, path, offset ?? 0, Math.max(4, Math.min(wanted ?? maxBytes, maxBytes)))
      },
    },
    {
      name: 'files.list',
      title: 'List a directory',
      description: `Lists a directory's entries (path, type, size), recursively if asked, at most ${maxEntries} (truncated: true beyond). Symbolic links are listed, never followed. Without a path, lists the roots. ${pathHelp}`,
      inputSchema: {
        type: 'object',
        properties: {
          path: { type: 'string', minLength: 1, maxLength: 4096 },
          recursive: { type: 'boolean', default: false },
          maxEntries: { type: 'integer', minimum: 1 },
        },
        additionalProperties: false,
      },
      annotations: READ_ONLY,
      requires: 'tool.call',
      call: async (input, context) => {
        const {
          path,
          recursive,
          maxEntries: wanted,
        } = input as { path?: string; recursive?: boolean; maxEntries?: number }
        const limit = Math.min(wanted ?? maxEntries, maxEntries)
        return listEntries(roots, path, recursive ?? false, limit, context.signal)
      },
    },
  ]
}

async function readText(roots: readonly FileRoot[], path: string, offset: number, maxBytes: number): Promise<Json> {
  const { shown, real } = await resolvePath(roots, path)
  const before = await lstat(real).catch((error: unknown) => {
    throw fileError(error, shown)
  })
  if (before.isDirectory()) throw invalid(`input.path: ${shown} is a directory (use files.list)`)
  if (!before.isFile()) throw invalid(`input.path: ${shown} is not a regular file`)
  // no symlink is followed at the last step, and a FIFO swapped in meanwhile cannot block the open
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK
  const file = await open(real, flags).catch((error: unknown) => {
    throw fileError(error, shown)
  })
  try {
    const info = await file.stat()
    if (info.dev !== before.dev || info.ino !== before.ino || !info.isFile()) {
      throw new ShiiooError('CONFLICT', `files: ${shown} changed while it was opened`, { details: { path: shown } })
    }
    const size = info.size
    const head = Buffer.alloc(Math.min(SNIFF_BYTES, size))
    await file.read(head, 0, head.length, 0)
    if (!looksLikeUtf8Text(head, size > head.length)) {
      throw new ShiiooError(
        'INVALID_INPUT',
        `files: ${shown} is a binary file (not UTF-8 text); files.read reads text only`,
        {
          details: { path: shown, reason: 'binary' },
        },
      )
    }
    const chunk = Buffer.alloc(Math.max(0, Math.min(maxBytes + 3, size - offset)))
    const { bytesRead } = await file.read(chunk, 0, chunk.length, Math.min(offset, size))
    const data = chunk.subarray(0, bytesRead)
    // start at a character: skip the tail of one begun before `offset`
    const skip = continuationBytes(data)
    const window = data.subarray(skip, skip + maxBytes)
    const end = offset + skip + window.length < size ? utf8Boundary(window) : window.length
    const text = window.subarray(0, end)
    const start = Math.min(offset, size) + skip
    return {
      path: shown,
      offset: start,
      bytes: text.length,
      size,
      truncated: start + text.length < size,
      text: text.toString('utf8'),
    }
  } finally {
    await file.close()
  }
}

async function listEntries(
  roots: readonly FileRoot[],
  path: string | undefined,
  recursive: boolean,
  limit: number,
  signal: AbortSignal,
): Promise<Json> {
  const entries: Entry[] = []
  const queue: { shown: string; real: string }[] = []
  if (path === undefined) {
    for (const root of roots) {
      entries.push({ path: root.name, type: 'dir', size: 0 })
      if (recursive) queue.push(await resolvePath(roots, root.name))
    }
  } else {
    const start = await resolvePath(roots, path)
    const info = await lstat(start.real).catch((error: unknown) => {
      throw fileError(error, start.shown)
    })
    if (!info.isDirectory()) throw invalid(`input.path: ${start.shown} is not a directory`)
    queue.push(start)
  }
  let truncated = entries.length > limit
  for (let dir = queue.shift(); dir !== undefined && !truncated; dir = queue.shift()) {
    if (signal.aborted) throw abortedError('files.list', signal.reason)
    const names = await readNames(dir.real, limit - entries.length + 1).catch((error: unknown) => {
      if (dir.shown === path) throw fileError(error, dir.shown)
      return [] // a directory below that cannot be read is listed, not entered
    })
    for (const name of names.sort()) {
      if (entries.length === limit) {
        truncated = true
        break
      }
      const real = join(dir.real, name)
      const info = await lstat(real).catch(() => undefined)
      if (info === undefined) continue // gone since it was listed
      const type: EntryType = info.isFile()
        ? 'file'
        : info.isDirectory()
          ? 'dir'
          : info.isSymbolicLink()
            ? 'symlink'
            : 'other'
      const shown = `${dir.shown}/${name}`
      entries.push({ path: shown, type, size: type === 'file' ? info.size : 0 })
      if (type === 'dir' && recursive) queue.push({ shown, real })
    }
  }
  return { entries: entries.slice(0, limit), truncated }
}

/** Up to `most` names of a directory's entries, in the order the file system gives them. */
async function readNames(real: string, most: number): Promise<string[]> {
  const names: string[] = []
  const dir = await opendir(real)
  try {
    for (let entry = await dir.read(); entry !== null && names.length < most; entry = await dir.read()) {
      names.push(entry.name)
    }
  } finally {
    await dir.close()
  }
  return names
}
