import type { LogContext, Logger } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import { afterEach, describe, expect, it } from 'vitest'
import type { ExternalMcpTransport, ToolCallContext, ToolDefinition, ToolSource } from '../src/index.js'
import { externalMcpSource } from '../src/index.js'
import { caller } from './fixtures/catalog.js'
import type { HttpFixture } from './fixtures/fixture-process.js'
import { FIXTURE_SERVER, alive, startHttpFixture } from './fixtures/fixture-process.js'

const STDIO: ExternalMcpTransport = { kind: 'stdio', command: process.execPath, args: [FIXTURE_SERVER] }

const sources: ToolSource[] = []
const fixtures: HttpFixture[] = []
afterEach(async () => {
  await Promise.all(sources.splice(0).map(async (s) => s.close?.()))
  await Promise.all(fixtures.splice(0).map((f) => f.kill()))
})

function recordingLogger(lines: { message: string; context: LogContext }[]): Logger {
  const log = (message: string, context: LogContext = {}) => void lines.push({ message, context })
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger }
  return logger
}

async function started(
  transport: ExternalMcpTransport,
  options: { timeoutMs?: number; logger?: Logger; prefix?: string } = {},
): Promise<ToolSource> {
  const source = externalMcpSource({ prefix: options.prefix ?? 'fx', transport, timeoutMs: 10_000, ...options })
  sources.push(source)
  await source.start!()
  return source
}

function context(signal: AbortSignal = new AbortController().signal): ToolCallContext {
  return { caller: caller('acme', 'agent:run/step'), signal, idempotencyKey: 'run-1/step-a/1' }
}

function tool(source: ToolSource, name: string): ToolDefinition {
  const found = source.tools().find((t) => t.name === name)
  if (!found)
    throw new Error(
      `no tool ${name} in ${source
        .tools()
        .map((t) => t.name)
        .join(', ')}`,
    )
  return found
}

async function failure(p: Promise<unknown>): Promise<ShiiooError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof ShiiooError)) throw new Error(`expected a ShiiooError, got ${String(err)}`)
  return err
}

async function pidOf(source: ToolSource): Promise<number> {
  return ((await tool(source, 'fx.pid').call({}, context())) as { pid: number }).pid
}

describe('externalMcpSource over stdio (the fixture as a real child process)', () => {
  it('lists every page of the tools under the prefix, with safe names, hints and the JSON Schema', async () => {
    const source = await started(STDIO)
    expect(source.id).toBe('mcp:fx')
    expect(source.tools().map((t) => t.name)).toEqual([
      'fx.echo',
      'fx.add',
      'fx.fail',
      'fx.slow',
      'fx.search_issues_v2',
      'fx.pid',
      'fx.meta',
      'fx.image',
    ])
    const echo = tool(source, 'fx.echo')
    expect(echo).toMatchObject({
      title: 'Echo',
      description: 'Returns its text.',
      inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      // hints left out take the spec's defaults
      annotations: { readOnly: true, destructive: true, idempotent: false, openWorld: false },
      requires: 'tool.call',
    })
    expect(tool(source, 'fx.fail').annotations).toEqual({
      readOnly: false,
      destructive: true,
      idempotent: false,
      openWorld: true,
    })
  })

  it('calls tools by their remote names: structured content, text, JSON text, other content', async () => {
    const source = await started(STDIO)
    expect(await tool(source, 'fx.add').call({ a: 2, b: 3 }, context())).toEqual({ sum: 5 })
    expect(await tool(source, 'fx.echo').call({ text: 'plain words' }, context())).toBe('plain words')
    expect(await tool(source, 'fx.search_issues_v2').call({ query: 'bug' }, context())).toEqual({
      query: 'bug',
      results: [],
    })
    expect(await tool(source, 'fx.image').call({}, context())).toEqual([
      { type: 'text', text: 'a pixel' },
      { type: 'image', data: 'iVBORw0KGgo=', mimeType: 'image/png' },
    ])
    // the idempotency key travels to the server in _meta
    expect(await tool(source, 'fx.meta').call({}, context())).toEqual({
      meta: { 'dev.shiioo/idempotencyKey': 'run-1/step-a/1' },
      authorization: null,
    })
  })

  it("maps the remote tool's isError to a non-retryable INVALID_INPUT with the server's text", async () => {
    const source = await started(STDIO)
    const err = await failure(tool(source, 'fx.fail').call({ reason: 'disk on fire' }, context()))
    expect(err).toMatchObject({
      code: 'INVALID_INPUT',
      retryable: false,
      message: 'fx.fail failed: boom: disk on fire',
      details: { server: 'fx', tool: 'fail', remoteError: true },
    })
  })

  it('fails a call the caller aborts with its reason, and one over timeoutMs with a retryable UNAVAILABLE', async () => {
    const source = await started(STDIO, { timeoutMs: 1_500 })
    const slow = tool(source, 'fx.slow')
    const timedOut = await failure(slow.call({ ms: 5_000 }, context()))
    expect(timedOut).toMatchObject({ code: 'UNAVAILABLE', retryable: true, details: { kind: 'timeout' } })
    expect(timedOut.message).toMatch(/^mcp server "fx" did not answer slow within 1500 ms/)

    const controller = new AbortController()
    const cancelled = slow.call({ ms: 5_000 }, context(controller.signal))
    setTimeout(() => controller.abort(new ShiiooError('CONFLICT', 'the run was cancelled')), 50)
    expect(await failure(cancelled)).toMatchObject({ code: 'CONFLICT', message: 'the run was cancelled' })
    const aborted = new AbortController()
    const plain = slow.call({ ms: 5_000 }, context(aborted.signal))
    setTimeout(() => aborted.abort(), 50)
    expect(await failure(plain)).toMatchObject({ code: 'UNAVAILABLE', retryable: false, details: { kind: 'aborted' } })
    // the connection survives both
    expect(await tool(source, 'fx.add').call({ a: 1, b: 1 }, context())).toEqual({ sum: 2 })
  })

  it('answers a call in flight when the process dies with a retryable UNAVAILABLE, and the next call reconnects', async () => {
    const source = await started(STDIO)
    const first = await pidOf(source)
    const inFlight = tool(source, 'fx.slow').call({ ms: 10_000 }, context())
    await new Promise((resolve) => setTimeout(resolve, 100))
    process.kill(first, 'SIGKILL')
    const err = await failure(inFlight)
    expect(err).toMatchObject({ code: 'UNAVAILABLE', retryable: true, details: { server: 'fx' } })
    expect(err.message).toMatch(/^mcp server "fx" is unavailable: .*Connection closed/)
    const second = await pidOf(source)
    expect(second).not.toBe(first)
    expect(await tool(source, 'fx.add').call({ a: 20, b: 22 }, context())).toEqual({ sum: 42 })
  })

  it('names the prefix and the command when start fails (a missing command, a process that exits)', async () => {
    const missing = externalMcpSource({
      prefix: 'gone',
      transport: { kind: 'stdio', command: '/nonexistent/mcp-server' },
    })
    sources.push(missing)
    const err = await failure(missing.start!())
    expect(err).toMatchObject({ code: 'UNAVAILABLE', retryable: true, details: { server: 'gone', kind: 'start' } })
    expect(err.message).toMatch(/^mcp server "gone" \(\/nonexistent\/mcp-server\) could not be started: .*ENOENT/)

    const exits = externalMcpSource({
      prefix: 'exits',
      transport: { kind: 'stdio', command: process.execPath, args: ['-e', 'process.exit(3)'] },
    })
    sources.push(exits)
    expect((await failure(exits.start!())).message).toMatch(
      /^mcp server "exits" \(.*node -e process\.exit\(3\)\) could not be started: .*Connection closed/,
    )
    expect(exits.tools()).toEqual([])
  })

  it('refuses remote names that collide once mapped, with CONFLICT naming both', async () => {
    const source = externalMcpSource({ prefix: 'fx', transport: { ...STDIO, args: [FIXTURE_SERVER, '--collide'] } })
    sources.push(source)
    const err = await failure(source.start!())
    expect(err.code).toBe('CONFLICT')
    expect(err.message).toBe(
      'mcp server "fx": tools "search issues/v2" and "search_issues_v2" both map to the catalog name fx.search_issues_v2',
    )
  })

  it("logs the server's stderr, never passing it to our stdout", async () => {
    const lines: { message: string; context: LogContext }[] = []
    const source = await started(STDIO, { logger: recordingLogger(lines) })
    const pid = await pidOf(source)
    await expect
      .poll(() => lines.find((l) => l.message === 'mcp server stderr')?.context.line)
      .toBe(`test-mcp-server ${pid} starting`)
  })

  it('close() ends the child process and refuses later calls', async () => {
    const source = await started(STDIO)
    const pid = await pidOf(source)
    expect(alive(pid)).toBe(true)
    await source.close!()
    await expect.poll(() => alive(pid), { timeout: 10_000 }).toBe(false)
    const err = await failure(tool(source, 'fx.add').call({ a: 1, b: 2 }, context()))
    expect(err).toMatchObject({ code: 'UNAVAILABLE', retryable: false, message: 'mcp server "fx" is closed' })
  })

  it('refuses a prefix that is not one catalog name segment', () => {
    expect(() => externalMcpSource({ prefix: 'a.b', transport: STDIO })).toThrow(/prefix "a.b" must be/)
  })
})

describe('externalMcpSource over Streamable HTTP (the fixture in its own process)', () => {
  it('lists and calls tools, sending the configured headers', async () => {
    const fixture = await startHttpFixture()
    fixtures.push(fixture)
    const source = await started({ kind: 'http', url: fixture.url, headers: { Authorization: 'Bearer s3cret' } })
    expect(source.tools()).toHaveLength(8)
    expect(await tool(source, 'fx.meta').call({}, context())).toMatchObject({ authorization: 'Bearer s3cret' })
    expect(await tool(source, 'fx.add').call({ a: 4, b: 5 }, context())).toEqual({ sum: 9 })
    expect(await tool(source, 'fx.search_issues_v2').call({ query: 'q' }, context())).toEqual({
      query: 'q',
      results: [],
    })
    expect(await failure(tool(source, 'fx.fail').call({}, context()))).toMatchObject({
      code: 'INVALID_INPUT',
      message: 'fx.fail failed: boom: no reason',
    })
  })

  it('answers calls to a dead server with a retryable UNAVAILABLE, and reconnects once it is back', async () => {
    const fixture = await startHttpFixture()
    const source = await started({ kind: 'http', url: fixture.url })
    expect(await pidOf(source)).toBe(fixture.child.pid)
    await fixture.kill()
    const down = await failure(tool(source, 'fx.add').call({ a: 1, b: 2 }, context()))
    expect(down).toMatchObject({ code: 'UNAVAILABLE', retryable: true, details: { server: 'fx' } })
    expect(down.message).toMatch(/^mcp server "fx" is unavailable: fetch failed: .*ECONNREFUSED/)
    const stillDown = await failure(tool(source, 'fx.add').call({ a: 1, b: 2 }, context()))
    expect(stillDown.message).toMatch(/^mcp server "fx" is unavailable and could not be reconnected: /)
    expect(stillDown.retryable).toBe(true)

    const back = await startHttpFixture(fixture.port)
    fixtures.push(back)
    expect(await pidOf(source)).toBe(back.child.pid)
  })

  it('names the URL without its query when start fails, and never a header value', async () => {
    const fixture = await startHttpFixture()
    await fixture.kill()
    const source = externalMcpSource({
      prefix: 'remote',
      transport: {
        kind: 'http',
        url: `http://127.0.0.1:${fixture.port}/mcp?token=t0ken`,
        headers: { Authorization: 'Bearer s3cret' },
      },
    })
    sources.push(source)
    const err = await failure(source.start!())
    expect(err.message).toMatch(
      new RegExp(`^mcp server "remote" \\(http://127\\.0\\.0\\.1:${fixture.port}/mcp\\) could not be started: `),
    )
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toMatch(/s3cret|t0ken/)
  })

  it('refuses a URL that holds credentials or is not http(s)', () => {
    const http = (url: string) => () => externalMcpSource({ prefix: 'x', transport: { kind: 'http', url } })
    expect(http('http://user:pw@127.0.0.1/mcp')).toThrow('mcp server "x": its url must not hold credentials')
    expect(http('file:///etc/passwd')).toThrow('mcp server "x": its url must be http or https')
    expect(http('nope')).toThrow('mcp server "x": its url is not a URL')
  })
})
