import { createHash, randomUUID } from 'node:crypto'
import type { Json } from '@shiioo/core'
import { ShiiooError, canonicalJson } from '@shiioo/core'
import type { ToolRequest, ToolInvoker } from '@shiioo/engine'
import type { ToolCatalog, ToolInfo } from '@shiioo/mcp'
import type { Door } from '../audit/door.js'
import type { CallerContext } from '../caller.js'
import { toolCallerOf, workflowCaller } from './callers.js'

/** A tool as a caller sees it: name, what it does, its input's JSON Schema, its hints, its source. */
export type ToolView = ToolInfo

export interface ToolCallRequest {
  name: string
  input: Json
  /**
   * The same key for the same logical call (a client retrying after a lost answer): tools with side
   * effects, and external servers that take one, deduplicate by it. 1 to 200 printable characters;
   * a fresh one when absent. The tool sees it scoped to the caller and the tool (see scopedKey).
   */
  idempotencyKey?: string
  signal?: AbortSignal
}

/**
 * The enterprise tool catalog as a service: what MCP clients and the APIs list and call. Every
 * call is admitted (`tool.invoke`, then the tool's own requirement) and audited with its outcome;
 * the input is in the entry as a digest, never as its values.
 */
export interface ToolService {
  /** The tools the caller may use (`tool.list`), sorted by name. */
  list(caller: CallerContext): Promise<ToolView[]>
  /** One tool the caller may use (`tool.list`); NOT_FOUND when there is none of that name or it is not granted. */
  get(caller: CallerContext, name: string): Promise<ToolView>
  /** Calls a tool as the caller; NOT_FOUND, FORBIDDEN and INVALID_INPUT before anything runs. */
  call(caller: CallerContext, request: ToolCallRequest): Promise<Json>
  /**
   * Resolves once the tool sources have started, with those that could not (an external server
   * that is down: its calls are UNAVAILABLE and retried); rejects with what makes the catalog
   * unusable (two sources offering one name, a bad built-in setting).
   */
  ready(): Promise<{ unavailable: { source: string; error: string }[] }>
}

export interface ToolServiceDeps {
  /** The catalog, made on first use (so a command that calls no tool starts no external server). */
  catalog: () => Promise<ToolCatalog>
  door: Door
}

const CLIENT_KEY = /^[\x20-\x7e]{1,200}$/

/**
 * The key a tool deduplicates by. A caller's key is scoped to its tenant, its principal and the
 * tool (hashed), as the MCP server scopes its clients' keys: the same text sent by another
 * principal or another tenant can never name this caller's call, at an external server included.
 */
function scopedKey(caller: CallerContext, tool: string, offered: string | undefined): string {
  if (offered === undefined) return `call:${randomUUID()}`
  if (typeof offered !== 'string' || !CLIENT_KEY.test(offered)) {
    throw new ShiiooError('INVALID_INPUT', 'idempotencyKey must be 1 to 200 printable characters', {
      details: { field: 'idempotencyKey' },
    })
  }
  const { tenant, actor } = caller
  const digest = createHash('sha256').update([tenant, actor.kind, actor.id, tool, offered].join('\0')).digest('hex')
  return `call:${digest}`
}

/** A short digest of an input, for the audit entry (the values may be secret or large). */
export function inputDigest(input: Json): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex').slice(0, 16)
}

export function createToolService(deps: ToolServiceDeps): ToolService {
  const { catalog, door } = deps
  return {
    async list(caller) {
      door.admit(caller, 'tool.list', { kind: 'tenant' })
      return (await catalog()).list(toolCallerOf(caller))
    },
    async get(caller, name) {
      door.admit(caller, 'tool.list', { kind: 'tenant' })
      const tool = (await catalog()).get(toolCallerOf(caller), name)
      if (tool !== undefined) return tool
      // a tool the caller is not granted is answered as one that does not exist
      const shown = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name)
      throw new ShiiooError('NOT_FOUND', `no tool named ${shown}`, { details: { tool: name.slice(0, 200) } })
    },
    async call(caller, request) {
      if (typeof request.name !== 'string' || request.name.length === 0 || request.name.length > 300) {
        throw new ShiiooError('INVALID_INPUT', 'name must name a tool', { details: { field: 'name' } })
      }
      const idempotencyKey = scopedKey(caller, request.name, request.idempotencyKey)
      const tools = await catalog()
      return door.change(
        caller,
        'tool.invoke',
        { kind: 'tool', name: request.name },
        () =>
          tools.call(request.name, request.input, {
            caller: toolCallerOf(caller),
            signal: request.signal ?? new AbortController().signal,
            idempotencyKey,
          }),
        { details: { idempotencyKey, input: inputDigest(request.input) } },
      )
    },
    async ready() {
      return { unavailable: (await catalog()).unavailable?.() ?? [] }
    },
  }
}

/**
 * The engine's tool port over the catalog: agent steps and tool steps call tools as the run's
 * agent (see workflowCaller), each call admitted and audited like any other, with the attempt's
 * idempotency key, so an attempt re-executed after a crash passes the same key again.
 */
export function catalogToolInvoker(deps: ToolServiceDeps): ToolInvoker {
  const { catalog, door } = deps
  return {
    async invoke(request: ToolRequest) {
      const caller = workflowCaller(request.tenant, request.runId, request.stepId)
      const tools = await catalog()
      return door.change(
        caller,
        'tool.invoke',
        { kind: 'tool', name: request.tool },
        () =>
          tools.call(request.tool, request.input, {
            caller: toolCallerOf(caller),
            signal: request.signal,
            idempotencyKey: request.idempotencyKey,
            run: { runId: request.runId, stepId: request.stepId, attempt: request.attempt },
          }),
        {
          details: {
            runId: request.runId,
            stepId: request.stepId,
            attempt: request.attempt,
            ...(request.item === undefined ? {} : { item: request.item }),
            idempotencyKey: request.idempotencyKey,
            input: inputDigest(request.input),
          },
        },
      )
    },
  }
}
