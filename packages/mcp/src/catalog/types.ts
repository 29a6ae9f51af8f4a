import type { Json, TenantId } from '@shiioo/core'

/**
 * Who calls a tool: an agent step (acting for the run, with its role's grants) or an MCP client
 * (acting as the principal of its token). The orchestrator builds it from its CallerContext.
 */
export interface ToolCaller {
  tenant: TenantId
  /** The acting principal or component, as audit entries name it (`user:ana`, `agent:run/step`). */
  actor: string
  roles: readonly string[]
}

/** Where a call comes from when a workflow makes it. */
export interface ToolRunContext {
  runId: string
  stepId: string
  attempt: number
}

export interface ToolCallContext {
  caller: ToolCaller
  /** Aborted when the step times out, its run is cancelled, or the MCP client goes away. */
  signal: AbortSignal
  /**
   * Stable for one logical call, also when an attempt is re-executed after a crash: tools with side
   * effects (and external servers that take one) deduplicate by it.
   */
  idempotencyKey: string
  run?: ToolRunContext
}

/** What a tool does to the world, as MCP's tool annotations say it (hints for clients and policy). */
export interface ToolAnnotations {
  /** Reads only; changes nothing anywhere. */
  readOnly: boolean
  /** May destroy or overwrite (only meaningful when not readOnly). */
  destructive: boolean
  /** Calling twice with the same input has no further effect. */
  idempotent: boolean
  /** Reaches outside Shiioo (the internet, another server). */
  openWorld: boolean
}

/** A JSON Schema object (draft 2020-12) describing a tool's input: `{ type: 'object', ... }`. */
export type JsonSchemaObject = { type: 'object' } & Record<string, Json>

/**
 * One tool of the catalog. Names are `<namespace>.<name>` (`http.fetch`, `files.read`,
 * `shiioo.run.get`, `github.search_issues` for an external server imported under `github`):
 * letters, digits, `_`, `-` and dots, at most 128 characters. Vendors get a safe form of it from
 * @shiioo/capacity's tool-name mapping, whatever the name.
 */
export interface ToolDefinition {
  name: string
  /** A short human title (MCP `title`). */
  title?: string
  description: string
  inputSchema: JsonSchemaObject
  annotations: ToolAnnotations
  /**
   * The action the caller must be granted to see and call it (checked by the catalog's `permits`,
   * which the orchestrator implements with @shiioo/policy): `tool.call` for tools that reach the
   * world, the underlying service action (`run.read`, `run.start`, `run.decide`, ...) for Shiioo's
   * own tools, which the service checks again when called.
   */
  requires: string
  /**
   * Runs the tool. `input` has already been validated against `inputSchema`. Fails with a
   * ShiiooError: INVALID_INPUT (bad arguments the schema cannot express), FORBIDDEN (a refused
   * host or path), NOT_FOUND, UNAVAILABLE (retryable: a dead server, a timeout), ...
   */
  call(input: Json, context: ToolCallContext): Promise<Json>
}

/** A set of tools: the built-ins, Shiioo's own, or one external MCP server imported under a prefix. */
export interface ToolSource {
  /** e.g. `builtin`, `shiioo`, `mcp:github`. */
  readonly id: string
  /**
   * The namespace all of the source's tools live under (`github` for `github.search_issues`), for
   * a source that may be down: while it cannot start, a call under it is UNAVAILABLE (retryable)
   * naming the source, and each such call tries to start it again.
   */
  readonly prefix?: string
  /** The source's tools; an external source lists what its server offered when it connected. */
  tools(): readonly ToolDefinition[]
  /** Connects (an external server) and loads its tools; called once before `tools()`. */
  start?(): Promise<void>
  close?(): Promise<void>
}

/** What a caller sees of a tool (the MCP `tools/list` entry, and the agent's ToolSpec). */
export interface ToolInfo {
  name: string
  title?: string
  description: string
  inputSchema: JsonSchemaObject
  annotations: ToolAnnotations
  source: string
}

/** Whether a caller is granted an action (the orchestrator answers with @shiioo/policy). */
export type Permits = (caller: ToolCaller, action: string, tool: string) => boolean

/**
 * The enterprise tool catalog: every source's tools under one namespace, for agent steps, tool
 * steps and MCP clients alike.
 */
export interface ToolCatalog {
  /** The tools `caller` is granted, sorted by name; the others are not shown. */
  list(caller: ToolCaller): ToolInfo[]
  /** One tool as `caller` sees it, or undefined when it does not exist or is not granted. */
  get(caller: ToolCaller, name: string): ToolInfo | undefined
  /**
   * Calls a tool: NOT_FOUND for an unknown name (naming close matches), FORBIDDEN when the caller
   * is not granted it (naming the action), INVALID_INPUT naming the first bad field before anything
   * runs; then whatever the tool fails with.
   */
  call(name: string, input: Json, context: ToolCallContext): Promise<Json>
  /** Sources that could not start (their tools are missing until one does), with why. */
  unavailable?(): { source: string; error: string }[]
  /** Closes every source (external servers' processes and connections). */
  close(): Promise<void>
}
