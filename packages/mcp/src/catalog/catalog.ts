import { ShiiooError, toShiiooError, type Json } from '@shiioo/core'
import { abortedError, untilAborted } from '../abort.js'
import { createInputValidators, type InputValidator } from './input-validation.js'
import { checkToolName, closeMatches } from './names.js'
import type {
  Permits,
  ToolCallContext,
  ToolCaller,
  ToolCatalog,
  ToolDefinition,
  ToolInfo,
  ToolSource,
} from './types.js'

export interface ToolCatalogOptions {
  sources: readonly ToolSource[]
  permits: Permits
  /** How often a call may try again to start a source that is down (default 5 s). */
  retryMs?: number
}

interface Entry {
  tool: ToolDefinition
  source: string
  info: ToolInfo
  validate: InputValidator
}

/**
 * Starts every source that has `start` (all at once; if one fails, the ones that started are closed
 * again and the first failure is thrown), then reads each source's tools once: a name that is not a
 * tool name is refused (INVALID_INPUT), a name two sources offer is refused (CONFLICT naming both),
 * and each input schema is compiled once. The catalog serves that snapshot until `close`.
 */
export async function createToolCatalog(options: ToolCatalogOptions): Promise<ToolCatalog> {
  const { sources, permits } = options
  const retryMs = options.retryMs ?? RETRY_MS
  const ids = new Set<string>()
  for (const source of sources) {
    if (ids.has(source.id)) {
      throw new ShiiooError('CONFLICT', `two tool sources have the id ${source.id}`, { details: { source: source.id } })
    }
    ids.add(source.id)
  }
  const down = await startAll(sources)
  const up = sources.filter((s) => !down.has(s))
  const compile = createInputValidators()
  const entries = new Map<string, Entry>()
  try {
    for (const source of up) indexTools(source, entries, compile)
  } catch (error) {
    await closeAll(up).catch(() => undefined)
    throw toShiiooError(error)
  }
  let sorted = sortEntries(entries)
  const granted = (caller: ToolCaller, entry: Entry) => permits(caller, entry.tool.requires, entry.tool.name)
  let closing: Promise<void> | undefined

  /** A source that was down, started again by a call under its prefix (at most every RETRY_MS). */
  const revive = async (name: string): Promise<Entry | undefined> => {
    const source = [...down.keys()].find((s) => s.prefix !== undefined && name.startsWith(`${s.prefix}.`))
    if (source === undefined) return undefined
    const state = down.get(source)!
    if (Date.now() - state.at >= retryMs) {
      state.at = Date.now()
      state.retry ??= (async () => {
        try {
          await source.start?.()
          const fresh = new Map(entries)
          indexTools(source, fresh, compile)
          for (const [k, v] of fresh) entries.set(k, v)
          sorted = sortEntries(entries)
          down.delete(source)
        } catch (error) {
          state.error = toShiiooError(error)
        } finally {
          state.retry = undefined
        }
      })()
    }
    await state.retry
    const entry = entries.get(name)
    if (entry !== undefined || !down.has(source)) return entry
    throw new ShiiooError(
      'UNAVAILABLE',
      `the tool source ${source.id} is unavailable, so ${name} cannot be called: ${state.error.message}; it is tried again on the next call`,
      { retryable: true, details: { tool: name.slice(0, 200), source: source.id } },
    )
  }

  return {
    list: (caller) => sorted.filter((entry) => granted(caller, entry)).map((entry) => entry.info),

    unavailable: () => [...down].map(([source, state]) => ({ source: source.id, error: state.error.message })),

    get(caller, name) {
      const entry = entries.get(name)
      return entry !== undefined && granted(caller, entry) ? entry.info : undefined
    },

    async call(name: string, input: Json, context: ToolCallContext): Promise<Json> {
      if (context.signal.aborted) throw abortedError(`the call of ${name}`, context.signal.reason)
      const entry = entries.get(name) ?? (await revive(name))
      if (entry === undefined) {
        const visible = sorted.filter((e) => granted(context.caller, e)).map((e) => e.tool.name)
        throw notFound(name, closeMatches(name, visible))
      }
      if (!granted(context.caller, entry)) {
        throw new ShiiooError(
          'FORBIDDEN',
          `calling ${name} needs the action ${entry.tool.requires}, which ${context.caller.actor} is not granted`,
          { details: { tool: name, action: entry.tool.requires } },
        )
      }
      entry.validate(input)
      try {
        return await untilAborted(entry.tool.call(input, context), context.signal, `the call of ${name}`)
      } catch (error) {
        throw toShiiooError(error)
      }
    },

    close() {
      closing ??= closeAll(sources)
      return closing
    },
  }
}

/** How often a call may try again to start a source that is down. */
const RETRY_MS = 5_000

interface Down {
  error: ShiiooError
  at: number
  retry: Promise<void> | undefined
}

/**
 * Starts every source at once. One that fails and names its prefix (an external server) is left
 * down, its tools missing until a call under its prefix starts it; any other failure closes the
 * sources that started and is thrown.
 */
async function startAll(sources: readonly ToolSource[]): Promise<Map<ToolSource, Down>> {
  const outcomes = await Promise.allSettled(sources.map(async (source) => source.start?.()))
  const down = new Map<ToolSource, Down>()
  const fatal = outcomes.find((o, i) => o.status === 'rejected' && sources[i]!.prefix === undefined)
  if (fatal !== undefined) {
    await closeAll(sources.filter((_, i) => outcomes[i]!.status === 'fulfilled')).catch(() => undefined)
    throw toShiiooError((fatal as PromiseRejectedResult).reason)
  }
  outcomes.forEach((o, i) => {
    if (o.status === 'rejected')
      down.set(sources[i]!, { error: toShiiooError(o.reason), at: Date.now(), retry: undefined })
  })
  return down
}

function sortEntries(entries: Map<string, Entry>): Entry[] {
  return [...entries.values()].sort((a, b) => (a.tool.name < b.tool.name ? -1 : 1))
}

/** Closes every source, even when one fails to; the first failure is thrown after. */
async function closeAll(sources: readonly ToolSource[]): Promise<void> {
  const outcomes = await Promise.allSettled(sources.map(async (source) => source.close?.()))
  const failed = outcomes.find((outcome) => outcome.status === 'rejected')
  if (failed !== undefined) throw toShiiooError(failed.reason)
}

/** Adds a source's tools to `entries`: a bad name or a name already taken is refused. */
function indexTools(
  source: ToolSource,
  entries: Map<string, Entry>,
  compile: ReturnType<typeof createInputValidators>,
): void {
  {
    for (const tool of source.tools()) {
      checkToolName(tool.name, source.id)
      const taken = entries.get(tool.name)
      if (taken !== undefined) {
        throw new ShiiooError(
          'CONFLICT',
          `the tool name ${tool.name} is offered by two sources: ${taken.source} and ${source.id}`,
          { details: { tool: tool.name, sources: [taken.source, source.id] } },
        )
      }
      entries.set(tool.name, {
        tool,
        source: source.id,
        info: toInfo(tool, source.id),
        validate: compile(tool.inputSchema, tool.name, source.id),
      })
    }
  }
}

/** Frozen: every caller is handed the same object. */
function toInfo(tool: ToolDefinition, source: string): ToolInfo {
  return Object.freeze({
    name: tool.name,
    ...(tool.title === undefined ? {} : { title: tool.title }),
    description: tool.description,
    inputSchema: tool.inputSchema,
    annotations: Object.freeze({ ...tool.annotations }),
    source,
  })
}

function notFound(name: string, suggestions: string[]): ShiiooError {
  const shown = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name)
  const hint = suggestions.length === 0 ? '' : ` (did you mean ${suggestions.join(', ')}?)`
  return new ShiiooError('NOT_FOUND', `no tool named ${shown}${hint}`, {
    details: { tool: name.slice(0, 200), suggestions },
  })
}
