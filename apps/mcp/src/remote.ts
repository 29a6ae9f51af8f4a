import type { Logger } from '@shiioo/core'
import { ShiiooError, isShiiooError, toShiiooError } from '@shiioo/core'
import { JsonRpcError } from '@shiioo/mcp'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js'
import type { AnySchema, SchemaOutput } from '@modelcontextprotocol/sdk/server/zod-compat.js'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import type { CallToolResult, ServerCapabilities, ServerNotification } from '@modelcontextprotocol/sdk/types.js'
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  CompleteRequestSchema,
  CompleteResultSchema,
  EmptyResultSchema,
  GetPromptRequestSchema,
  GetPromptResultSchema,
  ListPromptsRequestSchema,
  ListPromptsResultSchema,
  ListResourceTemplatesRequestSchema,
  ListResourceTemplatesResultSchema,
  ListResourcesRequestSchema,
  ListResourcesResultSchema,
  ListToolsRequestSchema,
  ListToolsResultSchema,
  McpError,
  ReadResourceRequestSchema,
  ReadResourceResultSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js'

export interface RemoteOptions {
  /** The server's base URL (`http://127.0.0.1:8080`); its MCP endpoint is `<url>/mcp`. */
  url: string
  token: string
  version: string
  logger: Logger
}

/** Long enough for any tool call; the MCP client on the other side keeps its own timeout. */
const CALL_TIMEOUT_MS = 30 * 60_000

/** The SDK's McpError prefixes its message with "MCP error <code>: ": the client is shown the server's own. */
function unprefixed(err: McpError): string {
  return err.message.replace(/^MCP error -?\d+: /, '')
}

/** A failure to reach the server (not an answer of it), as the ShiiooError a person can act on. */
function unreachable(url: string, err: unknown): ShiiooError {
  if (err instanceof StreamableHTTPError && (err.code === 401 || err.code === 403)) {
    return new ShiiooError(
      err.code === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN',
      `the Shiioo server at ${url} refused the token in SHIIOO_TOKEN (HTTP ${err.code}): make one with \`shiioo token create\``,
    )
  }
  const why = err instanceof Error ? err.message : String(err)
  return new ShiiooError('UNAVAILABLE', `the Shiioo server at ${url} cannot be reached: ${why}`, {
    retryable: true,
    cause: err,
  })
}

/** Whether the session is gone (the server restarted, or it expired): a new one may succeed. */
function sessionLost(err: unknown): boolean {
  if (err instanceof StreamableHTTPError) return err.code === 404 || err.code === -1
  // undici's "fetch failed", a reset connection
  return err instanceof TypeError
}

/**
 * One MCP session with the server's /mcp endpoint that reopens itself once when it is lost (the
 * server restarted or the session expired), subscribing again to what was subscribed.
 */
class RemoteSession {
  private client: Client | null = null
  private connecting: Promise<Client> | null = null
  readonly subscribed = new Set<string>()
  onNotification: (notification: ServerNotification) => void = () => {}

  constructor(private readonly options: RemoteOptions) {}

  private get endpoint(): URL {
    return new URL(`${this.options.url}/mcp`)
  }

  async open(): Promise<Client> {
    this.connecting ??= (async () => {
      const client = new Client({ name: 'shiioo-mcp', version: this.options.version })
      const transport = new StreamableHTTPClientTransport(this.endpoint, {
        requestInit: { headers: { Authorization: `Bearer ${this.options.token}` } },
      })
      client.fallbackNotificationHandler = async (notification) => {
        this.onNotification(notification as ServerNotification)
      }
      client.onerror = (err) => this.options.logger.debug('the server session reported an error', { err })
      try {
        await client.connect(transport)
      } catch (err) {
        this.connecting = null
        await client.close().catch(() => {})
        throw unreachable(this.options.url, err)
      }
      this.client = client
      return client
    })()
    return this.connecting
  }

  /** Sends one request; a lost session is opened again (and its subscriptions renewed) once. */
  async request<T extends AnySchema>(
    request: { method: string; params?: Record<string, unknown> },
    result: T,
    options: RequestOptions,
  ): Promise<SchemaOutput<T>> {
    const send = (client: Client) => client.request(request, result, options)
    const first = await this.open()
    try {
      return await send(first)
    } catch (err) {
      if (!sessionLost(err) || options.signal?.aborted) throw this.answer(err)
      this.options.logger.info('the server session was lost; opening a new one', { err })
      await this.reset(first)
      let again: Client
      try {
        again = await this.open()
        for (const uri of this.subscribed) {
          await again.request({ method: 'resources/subscribe', params: { uri } }, EmptyResultSchema)
        }
      } catch (reopen) {
        throw this.answer(reopen)
      }
      try {
        return await send(again)
      } catch (retry) {
        throw this.answer(retry)
      }
    }
  }

  /** The server's answer as the same JSON-RPC error; a failure to reach it as UNAVAILABLE. */
  private answer(err: unknown): Error {
    if (err instanceof McpError) return new JsonRpcError(err.code, unprefixed(err), err.data as Record<string, unknown>)
    if (isShiiooError(err)) return err
    return unreachable(this.options.url, err)
  }

  private async reset(client: Client): Promise<void> {
    if (this.client !== client) return
    this.client = null
    this.connecting = null
    await client.close().catch(() => {})
  }

  capabilities(): ServerCapabilities {
    return this.client?.getServerCapabilities() ?? {}
  }

  instructions(): string | undefined {
    return this.client?.getInstructions()
  }

  async close(): Promise<void> {
    const client = this.client
    this.client = null
    this.connecting = null
    if (!client) return
    // ends the session at the server (DELETE), then the connection
    const transport = client.transport
    if (transport instanceof StreamableHTTPClientTransport) await transport.terminateSession().catch(() => {})
    await client.close().catch(() => {})
  }
}

/**
 * MCP over stdio in front of a running server's /mcp endpoint: each request is passed on as it
 * came (tools, resources, subscriptions, prompts and completions when the server offers them) and
 * answered with the server's own answer, errors included; the server's notifications come back.
 * The server authenticates, admits and audits everything, as the principal of the token.
 */
export async function openRemote(options: RemoteOptions): Promise<{ server: Server; close(): Promise<void> }> {
  const session = new RemoteSession(options)
  await session.open()
  const remote = session.capabilities()
  const capabilities: ServerCapabilities = {
    ...(remote.tools ? { tools: remote.tools } : {}),
    ...(remote.resources ? { resources: remote.resources } : {}),
    ...(remote.prompts ? { prompts: remote.prompts } : {}),
    ...(remote.completions ? { completions: remote.completions } : {}),
    ...(remote.logging ? { logging: remote.logging } : {}),
  }
  const instructions = session.instructions()
  const server = new Server(
    { name: 'shiioo', version: options.version },
    { capabilities, ...(instructions === undefined ? {} : { instructions }) },
  )
  session.onNotification = (notification) => {
    server.notification(notification).catch((err: unknown) => {
      options.logger.debug('a notification of the server could not be passed on', { err })
    })
  }
  const via = (signal: AbortSignal, timeout?: number): RequestOptions => ({
    signal,
    ...(timeout === undefined ? {} : { timeout, resetTimeoutOnProgress: true }),
  })

  if (remote.tools) {
    server.setRequestHandler(ListToolsRequestSchema, (request, extra) =>
      session.request(request, ListToolsResultSchema, via(extra.signal)),
    )
    server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
      try {
        return await session.request(request, CallToolResultSchema, via(extra.signal, CALL_TIMEOUT_MS))
      } catch (err) {
        if (err instanceof JsonRpcError) throw err
        // the server could not be asked: a tool-execution error, so the model reads it (and may retry)
        const { code, message, retryable } = toShiiooError(err)
        return {
          isError: true,
          content: [{ type: 'text', text: `${code}: ${message}` }],
          structuredContent: { error: { code, message, retryable } },
        }
      }
    })
  }
  if (remote.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, (request, extra) =>
      session.request(request, ListResourcesResultSchema, via(extra.signal)),
    )
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (request, extra) =>
      session.request(request, ListResourceTemplatesResultSchema, via(extra.signal)),
    )
    server.setRequestHandler(ReadResourceRequestSchema, (request, extra) =>
      session.request(request, ReadResourceResultSchema, via(extra.signal)),
    )
    if (remote.resources.subscribe) {
      server.setRequestHandler(SubscribeRequestSchema, async (request, extra) => {
        const answer = await session.request(request, EmptyResultSchema, via(extra.signal))
        session.subscribed.add(request.params.uri)
        return answer
      })
      server.setRequestHandler(UnsubscribeRequestSchema, async (request, extra) => {
        session.subscribed.delete(request.params.uri)
        return session.request(request, EmptyResultSchema, via(extra.signal))
      })
    }
  }
  if (remote.prompts) {
    server.setRequestHandler(ListPromptsRequestSchema, (request, extra) =>
      session.request(request, ListPromptsResultSchema, via(extra.signal)),
    )
    server.setRequestHandler(GetPromptRequestSchema, (request, extra) =>
      session.request(request, GetPromptResultSchema, via(extra.signal)),
    )
  }
  if (remote.completions) {
    server.setRequestHandler(CompleteRequestSchema, (request, extra) =>
      session.request(request, CompleteResultSchema, via(extra.signal)),
    )
  }
  if (remote.logging) {
    // the server filters its messages by the level the client sets
    server.setRequestHandler(SetLevelRequestSchema, (request, extra) =>
      session.request(request, EmptyResultSchema, via(extra.signal)),
    )
  }
  return { server, close: () => session.close() }
}
