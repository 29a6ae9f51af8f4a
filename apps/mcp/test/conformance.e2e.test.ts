import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Serving } from './processes.js'
import { ADMIN_TOKEN, MCP_ROOT, assertBuilt, childEnv, ended, scratch, serve } from './processes.js'

/**
 * The MCP conformance suite (`@modelcontextprotocol/conformance`, server scenarios) against the
 * real /mcp, with the failures it is expected to have listed, each with its reason, in
 * conformance-baseline.yml. The suite cannot send a bearer token, so it talks to /mcp through a
 * loopback proxy that adds the admin's and passes everything else (Origin and Host included) as it is.
 */

const dirs = scratch()
let server: Serving
let proxy: Server
let proxyPort = 0

/** Forwards to the server, adding the token. */
function forward(req: IncomingMessage, res: ServerResponse): void {
  const upstream = request(
    {
      host: '127.0.0.1',
      port: server.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, authorization: `Bearer ${ADMIN_TOKEN}` },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    },
  )
  upstream.on('error', () => res.destroy())
  req.pipe(upstream)
}

beforeAll(async () => {
  assertBuilt()
  proxy = createServer(forward)
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  proxyPort = (proxy.address() as AddressInfo).port
  const dataDir = await dirs.dir()
  // the suite's page on localhost must be let in (and one on another name refused): the origin
  // it uses is allowed, as an operator allows the dashboard's
  await writeFile(join(dataDir, 'shiioo.toml'), `[http]\ncors_origins = ["http://127.0.0.1:${proxyPort}"]\n`)
  server = await serve(dataDir)
})

afterAll(async () => {
  proxy?.closeAllConnections()
  await new Promise((resolve) => proxy?.close(resolve))
  await server?.stop()
  await dirs.remove()
})

describe('the MCP conformance suite against /mcp', () => {
  it('passes every scenario but those in conformance-baseline.yml', async () => {
    const results = await dirs.dir()
    const child = spawn(
      'npx',
      [
        '--no',
        '--',
        'conformance',
        'server',
        '--url',
        `http://127.0.0.1:${proxyPort}/mcp`,
        '--expected-failures',
        'test/conformance-baseline.yml',
        '--output-dir',
        results,
      ],
      { cwd: MCP_ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    )
    const deadline = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 180_000)
    const result = await ended(child).finally(() => clearTimeout(deadline))
    const summary = result.stdout.slice(result.stdout.indexOf('=== SUMMARY ==='))
    expect(summary, result.stderr).toContain('Baseline check passed')
    expect(result.code).toBe(0)
    for (const passing of [
      'server-initialize',
      'logging-set-level',
      'ping',
      'tools-list',
      'server-sse-multiple-streams',
      'resources-list',
      'dns-rebinding-protection',
    ]) {
      expect(summary).toMatch(new RegExp(`✓ ${passing}: \\d+ passed, 0 failed`))
    }
  }, 240_000)
})
