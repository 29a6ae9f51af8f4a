import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'

/**
 * The real processes the shiioo-mcp tests drive: `shiioo-mcp` itself (through the SDK's stdio
 * client), `shiioo serve` for its --server mode, and the shiioo CLI to prepare a data dir.
 */

export const MCP_ROOT = fileURLToPath(new URL('..', import.meta.url))
export const REPO_ROOT = join(MCP_ROOT, '..', '..')
export const MCP_BIN = join(MCP_ROOT, 'bin', 'shiioo-mcp.js')
export const SHIIOO_BIN = join(REPO_ROOT, 'apps', 'server', 'bin', 'shiioo.js')
export const EXAMPLES = join(REPO_ROOT, 'examples', 'workflows')

/** An admin token for SHIIOO_ADMIN_TOKEN (32-512 printable characters). */
export const ADMIN_TOKEN = 'shiioo-mcp-e2e-admin-token'.padEnd(48, '0')

export function assertBuilt(): void {
  for (const main of [join(MCP_ROOT, 'dist', 'main.js'), join(REPO_ROOT, 'apps', 'server', 'dist', 'cli', 'main.js')]) {
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` in the repository root first`)
  }
}

/** This process's environment without SHIIOO_* and npm_* variables (the test sets the ones it means), plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('SHIIOO_') && !name.toLowerCase().startsWith('npm_')) env[name] = value
  }
  return { ...env, ...extra }
}

/** Temp dirs a test file owns; `remove()` in afterAll. */
export function scratch() {
  const dirs: string[] = []
  return {
    async dir(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), 'shiioo-mcp-test-'))
      dirs.push(dir)
      return dir
    },
    remove: () => Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true }))),
  }
}

export interface Ended {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Waits for a child to end, keeping what it wrote. */
export function ended(child: ChildProcess): Promise<Ended> {
  const out: string[] = []
  const err: string[] = []
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk.toString('utf8')))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out.join(''), stderr: err.join('') }))
  })
}

/** Runs a command to its end (stdin closed at once). */
export function run(command: string, args: readonly string[], options: { cwd: string; env?: Record<string, string> }) {
  return ended(
    spawn(command, args, { cwd: options.cwd, env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] }),
  )
}

/** The shiioo CLI with `--json`, on `dataDir`; its parsed output. */
export async function shiiooJson(dataDir: string, args: readonly string[]): Promise<Record<string, unknown>> {
  const done = await run(process.execPath, [SHIIOO_BIN, ...args, '--json', '--data-dir', dataDir], { cwd: dataDir })
  if (done.code !== 0) throw new Error(`shiioo ${args.join(' ')} exited ${done.code}: ${done.stderr}`)
  return JSON.parse(done.stdout) as Record<string, unknown>
}

export interface Serving {
  url: string
  port: number
  stop(): Promise<Ended>
}

/** `shiioo serve` on `dataDir` (port 0 unless given), once it says where it listens. */
export async function serve(dataDir: string, options: { port?: number; env?: Record<string, string> } = {}) {
  const child = spawn(process.execPath, [SHIIOO_BIN, 'serve', '--port', String(options.port ?? 0)], {
    cwd: dataDir,
    env: childEnv({
      SHIIOO_DATA_DIR: dataDir,
      SHIIOO_ADMIN_TOKEN: ADMIN_TOKEN,
      SHIIOO_LOG_LEVEL: 'warn',
      ...options.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const done = ended(child)
  let said = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`shiioo serve did not listen in time:\n${said}`)), 30_000)
    child.stderr.on('data', (chunk: Buffer) => {
      said += chunk.toString('utf8')
      const listening = /shiioo listening on (http:\/\/\S+)/.exec(said)
      if (listening) {
        clearTimeout(timer)
        resolve(listening[1]!)
      }
    })
    void done.then((r) => {
      clearTimeout(timer)
      reject(new Error(`shiioo serve exited (${r.code ?? r.signal}):\n${r.stderr}`))
    })
  })
  const served: Serving = {
    url,
    port: Number(new URL(url).port),
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return done
    },
  }
  return served
}

export interface StdioSession {
  client: Client
  /** What the server wrote on stderr so far. */
  stderr(): string
  /** Protocol errors the client saw (a line on stdout that is not JSON-RPC among them). */
  errors: Error[]
}

/** The SDK's stdio client on `command args` (default: shiioo-mcp with `args`). */
export async function stdioSession(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string>; command?: string },
): Promise<StdioSession> {
  const transport = new StdioClientTransport({
    command: options.command ?? process.execPath,
    args: options.command === undefined ? [MCP_BIN, ...args] : [...args],
    cwd: options.cwd,
    env: childEnv(options.env),
    stderr: 'pipe',
  })
  let stderr = ''
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  const client = new Client({ name: 'shiioo-mcp-e2e', version: '1' })
  const errors: Error[] = []
  client.onerror = (err) => void errors.push(err)
  await client.connect(transport)
  return { client, stderr: () => stderr, errors }
}
