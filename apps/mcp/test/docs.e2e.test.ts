import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Serving } from './processes.js'
import { ADMIN_TOKEN, REPO_ROOT, assertBuilt, scratch, serve, stdioSession } from './processes.js'

/**
 * The configuration docs/mcp.md tells people to paste, exercised: each snippet is read from the
 * file, its placeholders replaced by this machine's paths and a test server, and what it says to
 * start is started and asked for its tools.
 */

const DOC = join(REPO_ROOT, 'docs', 'mcp.md')
const dirs = scratch()
const clients: Client[] = []
let doc: string
let server: Serving
let dataDir: string

beforeAll(async () => {
  assertBuilt()
  doc = await readFile(DOC, 'utf8')
  dataDir = await dirs.dir()
  server = await serve(await dirs.dir())
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})
afterAll(async () => {
  await server?.stop()
  await dirs.remove()
})

/** The text of the `## <heading>` section. */
function section(heading: string): string {
  const start = doc.indexOf(`\n## ${heading}\n`)
  if (start < 0) throw new Error(`docs/mcp.md has no section "${heading}"`)
  const end = doc.indexOf('\n## ', start + 1)
  return doc.slice(start, end < 0 ? undefined : end)
}

/** The section's fenced code blocks in `language`. */
function blocks(text: string, language: string): string[] {
  return [...text.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!)
}

/** The documented placeholders, as this test fills them in. */
function filled(text: string): string {
  return text
    .replaceAll('/path/to/shiioo/data', dataDir)
    .replaceAll('/path/to/shiioo', REPO_ROOT)
    .replaceAll('http://127.0.0.1:8080', server.url)
    .replaceAll('<an API token>', ADMIN_TOKEN)
    .replaceAll('$SHIIOO_TOKEN', ADMIN_TOKEN)
    .replaceAll('${SHIIOO_TOKEN}', ADMIN_TOKEN)
}

/** A command line as a POSIX shell splits it (double quotes only, as the docs write them). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!)
}

interface StdioEntry {
  command: string
  args: string[]
  env?: Record<string, string>
}

/** A `.mcp.json` entry of Claude Code for a server over HTTP. */
interface HttpEntry {
  type: string
  url: string
  headers: Record<string, string>
}

async function toolsOverStdio(entry: StdioEntry): Promise<string[]> {
  // Claude starts servers in a working directory of its own: not the repository
  const session = await stdioSession(entry.args, {
    cwd: await dirs.dir(),
    command: entry.command,
    env: entry.env ?? {},
  })
  clients.push(session.client)
  expect(session.errors).toEqual([])
  return (await session.client.listTools()).tools.map((t) => t.name)
}

async function toolsOverHttp(url: string, headers: Record<string, string>): Promise<string[]> {
  const client = new Client({ name: 'docs', version: '1' })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }))
  clients.push(client)
  return (await client.listTools()).tools.map((t) => t.name)
}

describe('docs/mcp.md, as pasted', () => {
  it('Claude Desktop: both mcpServers entries start shiioo-mcp and list the tools', async () => {
    const configs = blocks(section('Adding Shiioo to Claude Desktop'), 'json').map(
      (json) => JSON.parse(filled(json)) as { mcpServers: Record<string, StdioEntry> },
    )
    expect(configs).toHaveLength(2)
    for (const config of configs) {
      const entry = config.mcpServers.shiioo!
      expect(entry.args[0]).toBe(join(REPO_ROOT, 'apps', 'mcp', 'bin', 'shiioo-mcp.js'))
      expect(await toolsOverStdio(entry)).toEqual(expect.arrayContaining(['core.echo', 'shiioo.runs.start']))
    }
  })

  it('Claude Code: `claude mcp add` over HTTP and over stdio, and the project .mcp.json', async () => {
    const text = section('Adding Shiioo to Claude Code')
    const adds = blocks(text, 'sh')
      .flatMap((b) => b.split('\n'))
      .filter((l) => l.startsWith('claude mcp add'))
      .map((l) => words(filled(l)))
    expect(adds).toHaveLength(2)
    const http = adds.find((w) => w.includes('--transport'))!
    expect(http.slice(0, 6)).toEqual(['claude', 'mcp', 'add', '--transport', 'http', 'shiioo'])
    const [name, value] = http[http.indexOf('--header') + 1]!.split(': ')
    expect(await toolsOverHttp(http[6]!, { [name!]: value! })).toContain('core.echo')

    const stdio = adds.find((w) => w.includes('--'))!
    const [command, ...args] = stdio.slice(stdio.indexOf('--') + 1)
    expect(await toolsOverStdio({ command: command!, args })).toContain('core.echo')

    const [project] = blocks(text, 'json')
    const { mcpServers } = JSON.parse(filled(project!)) as { mcpServers: Record<string, HttpEntry> }
    const entry = mcpServers.shiioo!
    expect(entry.type).toBe('http')
    expect(await toolsOverHttp(entry.url, entry.headers)).toContain('core.echo')
  })

  it('`npx shiioo-mcp` works from the repository root', async () => {
    const session = await stdioSession(['--no', '--', 'shiioo-mcp', '--data-dir', await dirs.dir()], {
      cwd: REPO_ROOT,
      command: 'npx',
    })
    clients.push(session.client)
    expect((await session.client.listTools()).tools.map((t) => t.name)).toContain('core.echo')
  })
})
