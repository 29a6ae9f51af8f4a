import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Ended, Serving } from './processes.js'
import { ADMIN_TOKEN, MCP_ROOT, assertBuilt, childEnv, ended, scratch, serve } from './processes.js'

/**
 * The MCP Inspector's CLI (`@modelcontextprotocol/inspector`, pinned in this package's
 * devDependencies) against Shiioo over both transports: shiioo-mcp over stdio, and /mcp over
 * Streamable HTTP with a bearer token. Started as a person would, with `npx mcp-inspector --cli`.
 */

const dirs = scratch()
let dataDir: string
/** shiioo-mcp's own data dir (the server has the other one). */
let localDir: string
let server: Serving

beforeAll(async () => {
  assertBuilt()
  dataDir = await dirs.dir()
  localDir = await dirs.dir()
  server = await serve(dataDir)
})
afterAll(async () => {
  await server?.stop()
  await dirs.remove()
})

/**
 * `npx mcp-inspector --cli <args>` in apps/mcp. In its own process group: should the arguments
 * ever make it start its web UI instead, the whole group is killed at the deadline.
 */
async function inspector(args: readonly string[]): Promise<Ended & { json: unknown }> {
  const child = spawn('npx', ['--no', '--', 'mcp-inspector', '--cli', ...args], {
    cwd: MCP_ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const deadline = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 45_000)
  const result = await ended(child).finally(() => clearTimeout(deadline))
  if (result.code !== 0) throw new Error(`mcp-inspector exited ${result.code ?? result.signal}:\n${result.stderr}`)
  return { ...result, json: JSON.parse(result.stdout) }
}

const toolNames = (json: unknown) => (json as { tools: Array<{ name: string }> }).tools.map((t) => t.name)

/** `tools/call` of core.echo with `text`, on the server `target` names; the result. */
async function echo(target: readonly string[], text: string): Promise<unknown> {
  const args = ['--method', 'tools/call', '--tool-name', 'core.echo', '--tool-arg', `text=${text}`]
  return (await inspector([...target, ...args])).json
}

describe('the MCP Inspector CLI', () => {
  it('lists tools and calls core.echo over stdio (shiioo-mcp on a data dir)', async () => {
    const target = ['node', 'bin/shiioo-mcp.js', '--data-dir', localDir]
    const listed = await inspector([...target, '--method', 'tools/list'])
    expect(toolNames(listed.json)).toEqual(expect.arrayContaining(['core.echo', 'http.fetch', 'shiioo.runs.start']))
    expect(await echo(target, 'from the inspector')).toMatchObject({
      structuredContent: { text: 'from the inspector' },
    })
    const templates = await inspector([...target, '--method', 'resources/templates/list'])
    expect(JSON.stringify(templates.json)).toContain('shiioo://runs/{runId}/events')
  })

  it('lists tools and calls core.echo over Streamable HTTP (/mcp with a bearer token)', async () => {
    const target = [`${server.url}/mcp`, '--transport', 'http', '--header', `Authorization: Bearer ${ADMIN_TOKEN}`]
    const listed = await inspector([...target, '--method', 'tools/list'])
    expect(toolNames(listed.json)).toEqual(expect.arrayContaining(['core.echo', 'shiioo.runs.get']))
    expect(await echo(target, 'over http')).toMatchObject({ structuredContent: { text: 'over http' } })
  })
})
