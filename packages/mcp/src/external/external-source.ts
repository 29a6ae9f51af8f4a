import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import type { Json, Logger } from '@shiioo/core'
import { ShiiooError, silentLogger } from '@shiioo/core'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js'
import { ErrorCode as RpcCode, McpError } from '@modelcontextprotocol/sdk/types.js'
import type { JsonSchemaObject, ToolCallContext, ToolDefinition, ToolSource } from '../catalog/types.js'
import { IDEMPOTENCY_KEY_META } from '../server/mcp-server.js'
import { SOURCE_PREFIX, mapToolNames } from './tool-names.js'

/** How to reach an external MCP server. */
export type ExternalMcpTransport =
  | {
      kind: 'stdio'
      command: string
      args?: readonly string[]
      /**
       * Variables for the child, with their values (config resolves the names it lists). The child
       * gets these and the SDK's small safe set (HOME, LOGNAME, PATH, SHELL, TERM, USER), no more.
       */
      env?: Readonly<Record<string, string>>
      cwd?: string
    }
  | {
      kind: 'http'
      /** The Streamable HTTP endpoint (`https://mcp.example.com/mcp`). */
      url: string
      /** Sent with every request (`Authorization`); never written to a log or an error. */
      headers?: Readonly<Record<string, string>>
    }

export interface ExternalMcpSourceOptions {
  /** The namespace of the server's tools in the catalog (`github` gives `github.search_issues`). */
  prefix: string
  transport: ExternalMcpTransport
  /** Bound on each request to the server: connecting, listing, one call (default 60 s). */
  timeoutMs?: number
  logger?: Logger
  /** The client's version in `initialize`. */
  clientVersion?: string
}

const DEFAULT_TIMEOUT_MS = 60_000
const MAX_LIST_PAGES = 100
const MAX_REMOTE_TEXT = 4000

/** The server as errors and logs may name it: the command, or the URL without its query. */
function describeServer(transport: ExternalMcpTransport): string {
  if (transport.kind === 'stdio') return [transport.command, ...(transport.args ?? [])].join(' ').slice(0, 300)
  const url = new URL(transport.url)
  return `${url.origin}${url.pathname}`
}

/** Refuses a URL that cannot work or would put a secret where errors show it. */
function checkUrl(prefix: string, raw: string): void {
  const url = URL.canParse(raw) ? new URL(raw) : undefined
  const problem =
    url === undefined
      ? 'is not a URL'
      : url.protocol !== 'http:' && url.protocol !== 'https:'
        ? 'must be http or https'
        : url.username !== '' || url.password !== ''
          ? 'must not hold credentials (send them in a header)'
          : undefined
  if (problem !== undefined) {
    throw new ShiiooError('INVALID_INPUT', `mcp server "${prefix}": its url ${problem}`, { details: { field: 'url' } })
  }
}

/**
 * Values that must never reach an error or a log (header values, the child's environment, the URL
 * with its query), each replaced where a cause's message repeats it.
 */
function redactor(transport: ExternalMcpTransport, server: string): (text: string) => string {
  const secrets =
    transport.kind === 'http'
      ? Object.values(transport.headers ?? {})
      : Object.values(transport.env ?? {}).filter((value) => value.length >= 8)
  const replacements: [string, string][] = [
    ...(transport.kind === 'http' ? [[transport.url, server] as [string, string]] : []),
    ...secrets.filter((value) => value.length > 0).map((value): [string, string] => [value, '[redacted]']),
  ]
  return (text) => replacements.reduce((out, [secret, shown]) => out.split(secret).join(shown), text)
}

function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
  return `${err.message}${cause}`
}

function clip(text: string): string {
  return text.length > MAX_REMOTE_TEXT ? `${text.slice(0, MAX_REMOTE_TEXT)}…` : text
}

/** The spec's defaults for hints a server leaves out: a tool may change, destroy, and reach anything. */
function annotationsOf(tool: Tool): ToolDefinition['annotations'] {
  return {
    readOnly: tool.annotations?.readOnlyHint ?? false,
    destructive: tool.annotations?.destructiveHint ?? true,
    idempotent: tool.annotations?.idempotentHint ?? false,
    openWorld: tool.annotations?.openWorldHint ?? true,
  }
}

/**
 * A call's output: `structuredContent` when the server gave it; else the text blocks joined, parsed
 * when they are JSON; content that is not all text (images, resources) as its MCP blocks.
 */
export function outputOf(result: CallToolResult): Json {
  if (result.structuredContent !== undefined) return result.structuredContent as Json
  const content = result.content
  if (content.length === 0) return null
  if (!content.every((block) => block.type === 'text')) return content as Json
  const text = content.map((block) => block.text).join('\n')
  try {
    return JSON.parse(text) as Json
  } catch {
    return text
  }
}

/**
 * The remote tool's own error: its answer to this input, so INVALID_INPUT and not retryable, unless
 * the server marks it transient the way Shiioo's MCP server does (`structuredContent.error.retryable`,
 * a rate limit or an outage behind it): then UNAVAILABLE, retryable. Its code is not taken over: a
 * remote FORBIDDEN or UNAUTHENTICATED says nothing of the caller's rights here.
 */
function remoteError(prefix: string, remote: string, result: CallToolResult): ShiiooError {
  const error = (result.structuredContent as { error?: { retryable?: unknown } } | undefined)?.error
  const transient = error?.retryable === true
  return new ShiiooError(
    transient ? 'UNAVAILABLE' : 'INVALID_INPUT',
    `${prefix}.${remote} failed: ${remoteErrorText(result)}`,
    {
      retryable: transient,
      details: { server: prefix, tool: remote, remoteError: true },
    },
  )
}

function remoteErrorText(result: CallToolResult): string {
  const text = result.content
    .filter((block) => block.type === 'text')
    .map((block) => block.text)
    .join('\n')
  return clip(text || JSON.stringify(result.structuredContent ?? null))
}

/**
 * One external MCP server as a source of catalog tools, `mcp:<prefix>`: it connects at `start()`
 * (spawning the command, or opening a session at the URL) and lists the server's tools, each as
 * `<prefix>.<remote name>` (`catalogToolName`).
 *
 * Failures of a call:
 * - the remote tool's own error (`isError`) is INVALID_INPUT, not retryable, with the server's
 *   text: it is the tool's answer to this input (the model reads it and can change the input),
 *   not a failure of the connection (one the server marks retryable is UNAVAILABLE, retryable);
 * - the server rejecting the request (unknown tool, bad params) is INVALID_INPUT too;
 * - a dead server (the process exited, the connection refused or dropped), a timeout or the
 *   server's internal error is UNAVAILABLE, retryable, naming the prefix and the cause; the next
 *   call reconnects first (once per call);
 * - a call its caller aborted fails with the abort's reason when that is a ShiiooError.
 */
export function externalMcpSource(options: ExternalMcpSourceOptions): ToolSource {
  const { prefix, transport: target } = options
  if (!SOURCE_PREFIX.test(prefix)) {
    throw new ShiiooError('INVALID_INPUT', `mcp server prefix "${prefix}" must be 1 to 40 letters, digits, _ or -`, {
      details: { field: 'prefix' },
    })
  }
  if (target.kind === 'http') checkUrl(prefix, target.url)
  const id = `mcp:${prefix}`
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const logger = (options.logger ?? silentLogger).child({ source: id })
  const server = describeServer(target)
  const redact = redactor(target, server)
  let definitions: ToolDefinition[] = []
  let client: Client | undefined
  let connecting: Promise<Client> | undefined
  let closed = false

  /**
   * The server cannot be used now. Retryable, but for credentials it refuses (HTTP 401 or 403): those
   * do not mend by themselves, an operator has to change the configured header.
   */
  const unavailable = (what: string, err: unknown, details: Record<string, unknown> = {}): ShiiooError => {
    const refused = err instanceof StreamableHTTPError && (err.code === 401 || err.code === 403)
    return new ShiiooError('UNAVAILABLE', `mcp server "${prefix}" ${what}: ${redact(causeOf(err)).slice(0, 500)}`, {
      retryable: !refused,
      cause: err,
      details: { server: prefix, ...details, ...(refused ? { kind: 'credentials', status: err.code } : {}) },
    })
  }

  const openTransport = (): Transport => {
    if (target.kind === 'http') {
      const headers = target.headers ? { ...target.headers } : undefined
      return new StreamableHTTPClientTransport(new URL(target.url), headers ? { requestInit: { headers } } : {})
    }
    const stdio = new StdioClientTransport({
      command: target.command,
      args: [...(target.args ?? [])],
      ...(target.env ? { env: { ...target.env } } : {}),
      ...(target.cwd ? { cwd: target.cwd } : {}),
      // never inherited: a child writing to our stdout would corrupt a stdio MCP server's protocol
      stderr: 'pipe',
    })
    // a PassThrough that exists before the child starts, so its first lines are not lost
    if (stdio.stderr instanceof Readable) {
      createInterface({ input: stdio.stderr }).on('line', (line) =>
        logger.info('mcp server stderr', { line: clip(line) }),
      )
    }
    return stdio
  }

  const connect = async (): Promise<Client> => {
    const next = new Client({ name: 'shiioo', version: options.clientVersion ?? '0.1.0' }, { capabilities: {} })
    next.onclose = () => {
      if (client === next) {
        client = undefined
        if (!closed) logger.warn('mcp server connection closed; the next call reconnects', { server })
      }
    }
    next.onerror = (err) => logger.debug('mcp server transport error', { error: redact(causeOf(err)) })
    // connect() closes the client itself when initialization fails
    await next.connect(openTransport(), { timeout })
    return next
  }

  /** The live client, reconnecting when the last connection died; concurrent calls share one attempt. */
  const connected = async (): Promise<Client> => {
    if (closed) throw new ShiiooError('UNAVAILABLE', `mcp server "${prefix}" is closed`, { retryable: false })
    if (client) return client
    connecting ??= connect()
      .then(async (c) => {
        if (!closed) return (client = c)
        await c.close()
        throw new Error('the source was closed while connecting')
      })
      .finally(() => (connecting = undefined))
    try {
      return await connecting
    } catch (err) {
      throw unavailable('is unavailable and could not be reconnected', err)
    }
  }

  /** Drops a connection that failed under a call, so the next call starts a new one. */
  const drop = (dead: Client): void => {
    if (client !== dead) return
    client = undefined
    void dead.close().catch(() => {})
  }

  const failure = (err: unknown, c: Client, remote: string, context: ToolCallContext): ShiiooError => {
    if (context.signal.aborted) {
      const reason: unknown = context.signal.reason
      if (reason instanceof ShiiooError) return reason
      return new ShiiooError('UNAVAILABLE', `mcp server "${prefix}": the call of ${remote} was aborted`, {
        retryable: false,
        details: { server: prefix, tool: remote, kind: 'aborted' },
      })
    }
    if (err instanceof McpError) {
      const code = err.code as RpcCode
      if (code === RpcCode.InvalidParams || code === RpcCode.InvalidRequest || code === RpcCode.MethodNotFound) {
        return new ShiiooError(
          'INVALID_INPUT',
          `mcp server "${prefix}" refused ${remote}: ${clip(redact(err.message))}`,
          {
            details: { server: prefix, tool: remote, rpcCode: code },
          },
        )
      }
      if (code === RpcCode.RequestTimeout) {
        return unavailable(`did not answer ${remote} within ${timeout} ms`, err, { tool: remote, kind: 'timeout' })
      }
      if (code !== RpcCode.ConnectionClosed) {
        return unavailable(`failed ${remote}`, err, { tool: remote, rpcCode: code })
      }
    }
    // the connection itself failed (a dead process, a refused or dropped connection, an unknown session)
    drop(c)
    return unavailable('is unavailable', err, { tool: remote, kind: 'connection' })
  }

  const call = async (remote: string, input: Json, context: ToolCallContext): Promise<Json> => {
    const c = await connected()
    let result: CallToolResult
    try {
      result = (await c.callTool(
        {
          name: remote,
          arguments: input as Record<string, unknown>,
          _meta: { [IDEMPOTENCY_KEY_META]: context.idempotencyKey },
        },
        undefined,
        { signal: context.signal, timeout },
      )) as CallToolResult
    } catch (err) {
      throw failure(err, c, remote, context)
    }
    if (result.isError === true) throw remoteError(prefix, remote, result)
    return outputOf(result)
  }

  const listTools = async (c: Client): Promise<Tool[]> => {
    const tools: Tool[] = []
    let cursor: string | undefined
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const result = await c.listTools(cursor === undefined ? {} : { cursor }, { timeout })
      tools.push(...result.tools)
      if (result.nextCursor === undefined || result.nextCursor === cursor) return tools
      cursor = result.nextCursor
    }
    logger.warn('mcp server lists more pages of tools than are read', { pages: MAX_LIST_PAGES })
    return tools
  }

  const define = (tools: readonly Tool[]): ToolDefinition[] => {
    const names = mapToolNames(
      prefix,
      tools.map((t) => t.name),
    )
    const byRemote = new Map(tools.map((t) => [t.name, t]))
    return [...names].map(([name, remote]) => {
      const tool = byRemote.get(remote)!
      const title = tool.title ?? tool.annotations?.title
      return {
        name,
        ...(title === undefined ? {} : { title }),
        description: tool.description ?? `${remote} (a tool of the MCP server "${prefix}")`,
        // the SDK has checked `type: 'object'`; it came as JSON, so it is JSON
        inputSchema: { ...tool.inputSchema, type: 'object' } as JsonSchemaObject,
        annotations: annotationsOf(tool),
        requires: 'tool.call',
        call: (input, context) => call(remote, input, context),
      }
    })
  }

  return {
    id,
    prefix,
    tools: () => definitions,
    async start() {
      if (closed) throw new ShiiooError('UNAVAILABLE', `mcp server "${prefix}" is closed`, { retryable: false })
      if (client) return
      let c: Client | undefined
      try {
        c = await connect()
        definitions = define(await listTools(c))
      } catch (err) {
        void c?.close().catch(() => {})
        // a name conflict is the server's tool list, not its availability
        if (err instanceof ShiiooError) throw err
        throw unavailable(`(${server}) could not be started`, err, { kind: 'start' })
      }
      client = c
      logger.info('mcp server connected', { server, tools: definitions.length })
    },
    async close() {
      closed = true
      const c = client ?? (await connecting?.catch(() => undefined))
      client = undefined
      if (!c) return
      if (c.transport instanceof StreamableHTTPClientTransport) {
        // ends the session on the server; a server that is gone already does not matter
        await c.transport.terminateSession().catch(() => {})
      }
      await c.close()
    },
  }
}
