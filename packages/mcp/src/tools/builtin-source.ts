import type { ToolDefinition, ToolSource } from '../catalog/types.js'
import { coreEchoTool, coreNoopTool } from './core.js'
import { filesTools, type FilesOptions } from './files.js'
import { httpFetchTool, type HttpFetchOptions } from './http-fetch.js'

export interface BuiltinToolsOptions {
  /** http.fetch's rules; `false` leaves the tool out. Default: on, with its defaults (no private addresses). */
  http?: HttpFetchOptions | false
  /** The files tools' roots and limits; without a root (or `false`) they are left out. */
  files?: FilesOptions | false
}

/**
 * The tools that ship with Shiioo, as the source `builtin`: core.echo and core.noop always,
 * http.fetch unless turned off, files.read and files.list when a root is configured. Options are
 * checked here, so a bad setting fails start-up (INVALID_INPUT naming the option).
 */
export function builtinToolSource(options: BuiltinToolsOptions = {}): ToolSource {
  const tools: ToolDefinition[] = [coreEchoTool, coreNoopTool]
  if (options.http !== false) tools.push(httpFetchTool(options.http ?? {}))
  if (options.files !== undefined && options.files !== false) tools.push(...filesTools(options.files))
  const frozen = Object.freeze(tools)
  return { id: 'builtin', tools: () => frozen }
}
