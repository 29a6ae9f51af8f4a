import { createHash, randomUUID } from 'node:crypto'
import type { Json, Logger } from '@shiioo/core'
import { ShiiooError, silentLogger } from '@shiioo/core'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import type { CallToolResult, ServerCapabilities, Tool } from '@modelcontextprotocol/sdk/types.js'
import {
  CallToolRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js'
import type { ToolCallContext, ToolCaller, ToolCatalog, ToolInfo } from '../catalog/types.js'
import { JSON_RPC, JsonRpcError, describeError, toJsonRpcError, toolErrorResult } from './errors.js'

/** A resource a caller may read (MCP `Resource`). */
export interface McpResource {
  uri: string
  name: string
  title?: string
  description?: string
  mimeType?: string
}

/** A family of resources by URI template (MCP `ResourceTemplate`, RFC 6570). */
export interface McpResourceTemplate {
  uriTemplate: string
  name: string
  title?: string
  description?: string
  mimeType?: string
}

/** What a resource holds: text, or binary as base64 in `blob`. */
export type McpResourceContents =
  { uri: string; mimeType?: string; text: string } | { uri: string; mimeType?: string; blob: string }

/**
 * The resources an MCP client may list and read, as its caller is allowed to see them (runs,
 * workflows, ...). Fails with a ShiiooError: `read` of a URI the caller cannot see is NOT_FOUND
 * (answered as MCP's -32002 "Resource not found", whether it exists for someone else or not).
 */
export interface McpResourceProvider {
  list(caller: ToolCaller, options: { signal: AbortSignal }): Promise<readonly McpResource[]>
  read(caller: ToolCaller, uri: string, options: { signal: AbortSignal }): Promise<readonly McpResourceContents[]>
  templates?(caller: ToolCaller, options: { signal: AbortSignal }): Promise<readonly McpResourceTemplate[]>
  /**
   * Calls `changed` each time the resource at `uri` changes, until `signal` aborts (what
   * `resources/subscribe` asks for). Resolves once it watches; fails like `read` for a URI the
   * caller cannot see, or with INVALID_INPUT for a resource that is never updated.
   */
  watch?(caller: ToolCaller, uri: string, changed: () => void, options: { signal: AbortSignal }): Promise<void>
}

/**
 * The tools an MCP session lists and calls: a ToolCatalog as it is, or an application service
 * that admits and audits every call (the orchestrator's `tools`, whose answers come
 * asynchronously). Same contract as ToolCatalog's `list`, `get` and `call`.
 */
export interface McpToolProvider {
  list(caller: ToolCaller): readonly ToolInfo[] | Promise<readonly ToolInfo[]>
  get(caller: ToolCaller, name: string): ToolInfo | undefined | Promise<ToolInfo | undefined>
  call: ToolCatalog['call']
}

/** Resources one session may watch at once; one more is refused (QUOTA_EXCEEDED). */
export const MAX_SUBSCRIPTIONS = 100

export interface ShiiooMcpServerOptions {
  catalog: McpToolProvider
  /**
   * Who the client acts as. A function is asked at every request: an HTTP session authenticates
   * each request, so a role taken away applies to the next call, not to the next session.
   */
  caller: ToolCaller | (() => ToolCaller)
  resources?: McpResourceProvider
  /** The server's name in `initialize` (default `shiioo`). */
  name?: string
  version: string
  instructions?: string
  logger?: Logger
}

/**
 * `_meta` key under which a client may name a call for deduplication (a string of 1 to 200
 * printable characters): a retry of the same logical call with the same key is deduplicated by
 * tools with side effects. Without it, each call gets a fresh key.
 */
export const IDEMPOTENCY_KEY_META = 'dev.shiioo/idempotencyKey'

const CLIENT_KEY = /^[\x20-\x7e]{1,200}$/

/**
 * The key a tool deduplicates by. A client's key is scoped to its tenant, principal and the tool
 * (hashed), so one client's key can never name another client's call, whatever it sends.
 */
function idempotencyKeyOf(caller: ToolCaller, tool: string, meta: Record<string, unknown> | undefined): string {
  const offered = meta?.[IDEMPOTENCY_KEY_META]
  if (offered === undefined) return `mcp:${randomUUID()}`
  if (typeof offered !== 'string' || !CLIENT_KEY.test(offered)) {
    throw new ShiiooError('INVALID_INPUT', `_meta["${IDEMPOTENCY_KEY_META}"] must be 1 to 200 printable characters`, {
      details: { field: `_meta.${IDEMPOTENCY_KEY_META}` },
    })
  }
  const digest = createHash('sha256').update([caller.tenant, caller.actor, tool, offered].join('\0')).digest('hex')
  return `mcp:${digest}`
}

/** A catalog entry as MCP lists it; the input schema passes through unchanged. */
export function toMcpTool(tool: ToolInfo): Tool {
  return {
    name: tool.name,
    ...(tool.title === undefined ? {} : { title: tool.title }),
    description: tool.description,
    inputSchema: tool.inputSchema,
    annotations: {
      ...(tool.title === undefined ? {} : { title: tool.title }),
      readOnlyHint: tool.annotations.readOnly,
      destructiveHint: tool.annotations.destructive,
      idempotentHint: tool.annotations.idempotent,
      openWorldHint: tool.annotations.openWorld,
    },
  }
}

/** A tool's output: JSON text for every client, and `structuredContent` when it is an object. */
function toolResult(output: Json): CallToolResult {
  const structured = typeof output === 'object' && output !== null && !Array.isArray(output)
  return {
    content: [{ type: 'text', text: JSON.stringify(output) ?? 'null' }],
    ...(structured ? { structuredContent: output } : {}),
  }
}

/**
 * Shiioo's tool catalog (and, when given, its resources) as an MCP server, for any transport:
 * stdio for Claude Desktop, Streamable HTTP sessions (`mcpHttpHandler`), in-memory in tests.
 *
 * The SDK's low-level `Server`, not `McpServer`: McpServer wants a zod shape per tool, and the
 * catalog's input schemas are JSON Schema objects that must reach the client as they are. Errors
 * are mapped as MCP_ERRORS says.
 */
export function createShiiooMcpServer(options: ShiiooMcpServerOptions): Server {
  const { catalog, resources } = options
  const logger = options.logger ?? silentLogger
  const callerOf = typeof options.caller === 'function' ? options.caller : () => options.caller as ToolCaller
  const subscribable = resources?.watch !== undefined
  const capabilities: ServerCapabilities = {
    tools: {},
    logging: {},
    ...(resources ? { resources: subscribable ? { subscribe: true } : {} } : {}),
  }
  const server = new Server(
    { name: options.name ?? 'shiioo', version: options.version },
    { capabilities, ...(options.instructions === undefined ? {} : { instructions: options.instructions }) },
  )

  /** Runs a handler that has no error result: its failure is a JSON-RPC error. */
  const answer = async <T>(what: string, data: Record<string, unknown>, run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (err) {
      throw toJsonRpcError(describeError(err, logger, what), data)
    }
  }

  server.setRequestHandler(ListToolsRequestSchema, () =>
    answer('tools/list failed', {}, async () => ({ tools: (await catalog.list(callerOf())).map(toMcpTool) })),
  )

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args, _meta } = request.params
    const caller = callerOf()
    const tool = await answer('tools/call failed', { name }, async () => catalog.get(caller, name))
    // unknown and not granted alike: a caller cannot tell a tool it may not see from one that is not there
    if (tool === undefined) {
      throw new JsonRpcError(JSON_RPC.InvalidParams, `Unknown tool: ${name}`, { name })
    }
    try {
      const idempotencyKey = idempotencyKeyOf(caller, name, _meta)
      // the arguments came from JSON, so they are JSON
      const context: ToolCallContext = { caller, signal: extra.signal, idempotencyKey }
      const output = await catalog.call(name, (args ?? {}) as Json, context)
      return toolResult(output)
    } catch (err) {
      const info = describeError(err, logger.child({ tool: name }), 'tool call failed')
      logger.debug('tool call failed', { tool: name, code: info.code })
      return toolErrorResult(info)
    }
  })

  if (resources) {
    server.setRequestHandler(ListResourcesRequestSchema, (_request, extra) =>
      answer('resources/list failed', {}, async () => ({
        resources: [...(await resources.list(callerOf(), { signal: extra.signal }))],
      })),
    )
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (_request, extra) =>
      answer('resources/templates/list failed', {}, async () => ({
        resourceTemplates: resources.templates
          ? [...(await resources.templates(callerOf(), { signal: extra.signal }))]
          : [],
      })),
    )
    server.setRequestHandler(ReadResourceRequestSchema, (request, extra) =>
      answer('resources/read failed', { uri: request.params.uri }, async () => ({
        contents: [...(await resources.read(callerOf(), request.params.uri, { signal: extra.signal }))],
      })),
    )
  }
  if (resources?.watch) watchResources(server, resources.watch.bind(resources), callerOf, answer, logger)
  return server
}

/**
 * `resources/subscribe` and `resources/unsubscribe`: each subscribed URI is watched until it is
 * unsubscribed or the session closes, and every change is sent as `notifications/resources/updated`
 * (over HTTP, on the stream the client keeps open with GET).
 */
function watchResources(
  server: Server,
  watch: NonNullable<McpResourceProvider['watch']>,
  callerOf: () => ToolCaller,
  answer: <T>(what: string, data: Record<string, unknown>, run: () => Promise<T>) => Promise<T>,
  logger: Logger,
): void {
  const watching = new Map<string, AbortController>()
  const stopAll = () => {
    for (const stop of watching.values()) stop.abort()
    watching.clear()
  }
  const previous = server.onclose
  server.onclose = () => {
    stopAll()
    previous?.()
  }
  server.setRequestHandler(SubscribeRequestSchema, (request) =>
    answer('resources/subscribe failed', { uri: request.params.uri }, async () => {
      const { uri } = request.params
      if (watching.has(uri)) return {}
      if (watching.size >= MAX_SUBSCRIPTIONS) {
        throw new ShiiooError('QUOTA_EXCEEDED', `a session may watch at most ${MAX_SUBSCRIPTIONS} resources`)
      }
      const stop = new AbortController()
      watching.set(uri, stop)
      const changed = () => {
        if (stop.signal.aborted) return
        server.sendResourceUpdated({ uri }).catch((err: unknown) => {
          logger.debug('a resource update could not be sent', { uri, err })
        })
      }
      try {
        await watch(callerOf(), uri, changed, { signal: stop.signal })
      } catch (err) {
        stop.abort()
        if (watching.get(uri) === stop) watching.delete(uri)
        throw err
      }
      return {}
    }),
  )
  server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    watching.get(request.params.uri)?.abort()
    watching.delete(request.params.uri)
    return {}
  })
}
