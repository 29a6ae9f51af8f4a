import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EventLog, NewEvent, RunId, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, FsBlobStore, createIdFactory, newEvent, openFsEventLog } from '@shiioo/core'

export const SERVER_ROOT = fileURLToPath(new URL('..', import.meta.url))
export const BIN = join(SERVER_ROOT, 'bin', 'shiioo.js')
export const REPO_ROOT = join(SERVER_ROOT, '..', '..')

export function assertBuilt(): void {
  if (!existsSync(join(SERVER_ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('apps/server is not built: run `npm run build` in the repository root first')
  }
}

/**
 * The environment of a person's shell: no SHIIOO_* or npm_* variables, and none of the
 * node_modules/.bin folders that npm puts on PATH for the test run; `extraPath` goes first.
 */
export function shellEnv(extraPath?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('SHIIOO_') && !k.toLowerCase().startsWith('npm_')) env[k] = v
  }
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((d) => d !== '' && !d.includes('node_modules') && !d.includes('node-gyp-bin'))
  env.PATH = [...(extraPath ? [extraPath] : []), ...path].join(delimiter)
  return env
}

/** Temp dirs made by a test file; `cleanup()` in afterAll/afterEach removes them. */
export function tempDirs() {
  const made: string[] = []
  return {
    async make(prefix = 'shiioo-server-'): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), prefix))
      made.push(dir)
      return dir
    },
    async cleanup(): Promise<void> {
      await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })))
    },
  }
}

/** The parent's environment without SHIIOO_* settings, so the caller decides every one. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHIIOO_')) env[k] = v
  return { ...env, ...extra }
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** What a child process writes, and how it ends. */
export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
}

/** Runs the real built CLI to completion. */
export function runCli(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return collect(child)
}

export interface ServeHandle {
  url: string
  port: number
  /** The listening line as printed. */
  line: string
  child: ChildProcess
  /** Sends `signal` and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>
}

/** Starts `shiioo serve` and resolves once it prints its listening line. */
export async function startServe(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<ServeHandle> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const done = collect(child)
  let seen = ''
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve did not start in time; stderr:\n${seen}`)),
      options.timeoutMs ?? 30_000,
    )
    child.stderr.on('data', (chunk: Buffer | string) => {
      seen += String(chunk)
      const match = /^shiioo listening on .*$/m.exec(seen)
      if (match) {
        clearTimeout(timer)
        resolve(match[0])
      }
    })
    void done.then((r) => {
      clearTimeout(timer)
      reject(new Error(`serve exited with ${r.code ?? r.signal} before listening; stderr:\n${r.stderr}`))
    })
  })
  const url = /http:\/\/\S+/.exec(line)![0]
  return {
    url,
    port: Number(new URL(url).port),
    line,
    child,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return done
    },
  }
}

/** Writes a small finished run with the real filesystem event log; returns its id. */
export async function writeRun(dataDir: string, options: { tenant?: TenantId; steps?: number } = {}): Promise<RunId> {
  const tenant = options.tenant ?? DEFAULT_TENANT
  const ids = createIdFactory()
  // the run's definition is stored before the event that names it, as the engine does (verify checks it)
  const definition = await new FsBlobStore({ dataDir }).put({ tenant, data: Buffer.from('{"name":"demo","steps":[]}') })
  const log: EventLog = openFsEventLog({ dataDir })
  try {
    const runId = ids.runId()
    const actor = { kind: 'user' as const, id: 'alice' }
    const at = new Date()
    const meta = () => ({ id: ids.eventId(), at, actor })
    const events: NewEvent[] = [newEvent('run.started', { workflow: { name: 'demo', hash: definition.key } }, meta())]
    for (let i = 0; i < (options.steps ?? 2); i++) {
      const stepId = `step_${i}`
      events.push(newEvent('step.started', { stepId, attempt: 1, idempotencyKey: `${runId}:${stepId}:1` }, meta()))
      events.push(newEvent('step.completed', { stepId, attempt: 1 }, meta()))
    }
    events.push(newEvent('run.completed', {}, meta()))
    // one append per event, so the stream file holds several gzip members
    let version = 0
    for (const e of events) {
      await log.append({ tenant, stream: runId, expectedVersion: version, events: [e] })
      version++
    }
    return runId
  } finally {
    await log.close()
  }
}
