import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Client, FormattedExecutionResult } from 'graphql-ws'
import { createClient } from 'graphql-ws'
import WebSocket from 'ws'
import type { CliResult } from './helpers.js'
import { REPO_ROOT, runCli } from './helpers.js'

/**
 * Real clients of a real `shiioo serve` process, for the end-to-end tests: REST over fetch, GraphQL
 * over HTTP, SSE and graphql-transport-ws, and the CLI on the server's data dir.
 */

/** A response's JSON, as a test reads it: checked by the expectations. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked by the expectations
export type Json = any

/** An audit entry and a run event, as the API answers them. */
export type { AuditEntryView as AuditEntry, EventView as EventJson } from '@shiioo/orchestrator'

export interface Reply {
  status: number
  headers: Headers
  body: Json
}

export interface RequestOptions {
  /** The bearer token; null: no Authorization header. */
  token: string | null
  body?: unknown
  headers?: Record<string, string>
}

/** One REST call: the body sent as JSON, the answer parsed as JSON (or kept as text). */
export async function rest(base: string, method: string, path: string, options: RequestOptions): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== null) headers.authorization = `Bearer ${options.token}`
  if (options.body !== undefined) headers['content-type'] ??= 'application/json'
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    signal: AbortSignal.timeout(15_000),
  })
  const text = await res.text()
  let body: Json = text
  if (/^application\/json/.test(res.headers.get('content-type') ?? '')) body = JSON.parse(text)
  return { status: res.status, headers: res.headers, body }
}

export interface GqlReply {
  status: number
  body: { data?: Json; errors?: Array<{ message: string; extensions?: { code?: string } & Record<string, unknown> }> }
}

/** A GraphQL operation over HTTP. */
export async function gqlHttp(
  base: string,
  token: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GqlReply> {
  const res = await fetch(`${base}/api/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  })
  return { status: res.status, body: (await res.json()) as GqlReply['body'] }
}

/** A graphql-transport-ws client of the server at `base`, authenticated by its connection params. */
export function wsClient(base: string, token: string): Client {
  return createClient({
    url: `${base.replace(/^http/, 'ws')}/api/graphql/ws`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  })
}

/** Reads a subscription until `until` accepts a payload (included), then stops it. */
export async function readUntil<T>(
  results: AsyncIterableIterator<FormattedExecutionResult<Json, unknown>>,
  pick: (result: FormattedExecutionResult<Json, unknown>) => T,
  until: (item: T) => boolean,
  onEach?: (item: T) => void | Promise<void>,
): Promise<T[]> {
  const seen: T[] = []
  for await (const result of results) {
    const item = pick(result)
    seen.push(item)
    await onEach?.(item)
    if (until(item)) break
  }
  return seen
}

/**
 * What a subscription delivers within `ms`: every result, and whether the server completed it.
 * For the subscriptions that must deliver nothing.
 */
export async function collectFor(
  client: Client,
  payload: { query: string; variables?: Record<string, unknown> },
  ms: number,
): Promise<{ results: Array<FormattedExecutionResult<Json, unknown>>; completed: boolean; error: unknown }> {
  const results: Array<FormattedExecutionResult<Json, unknown>> = []
  let completed = false
  let error: unknown = null
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      unsubscribe()
      resolve()
    }, ms)
    const unsubscribe = client.subscribe(payload, {
      next: (r) => results.push(r),
      error: (e) => {
        error = e
        clearTimeout(timer)
        resolve()
      },
      complete: () => {
        completed = true
        clearTimeout(timer)
        resolve()
      },
    })
  })
  return { results, completed, error }
}

/**
 * A subscription over SSE (`POST /api/graphql`, `Accept: text/event-stream`): the raw stream
 * until the server ends it or `ms` passes.
 */
export async function sseFor(
  base: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  ms: number,
): Promise<{ status: number; text: string; ended: boolean }> {
  const stop = new AbortController()
  const timer = setTimeout(() => stop.abort(), ms)
  let text = ''
  let ended = false
  let status = 0
  try {
    const res = await fetch(`${base}/api/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: stop.signal,
    })
    status = res.status
    const decoder = new TextDecoder()
    for await (const chunk of res.body!) text += decoder.decode(chunk, { stream: true })
    ended = true
  } catch (err) {
    if (!stop.signal.aborted) throw err
  } finally {
    clearTimeout(timer)
  }
  return { status, text, ended }
}

export function exampleWorkflow(name: string): Promise<string> {
  return readFile(join(REPO_ROOT, 'examples', 'workflows', `${name}.yaml`), 'utf8')
}

/** Runs the CLI on `dataDir` and parses its `--json` output; fails with its stderr when it fails. */
export async function cliJson(dataDir: string, args: string[]): Promise<Json> {
  const result: CliResult = await runCli([...args, '--json', '--data-dir', dataDir, '--log-level', 'error'], {
    cwd: dataDir,
  })
  if (result.code !== 0) throw new Error(`shiioo ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout)
}

/** An admin token for SHIIOO_ADMIN_TOKEN: 32-512 printable characters. */
export function adminToken(label: string): string {
  return `e2e-${label}-`.padEnd(48, 'x')
}

/** Polls `check` every 25 ms until it is true or `ms` passes; returns the time it took, or null. */
export async function within(ms: number, check: () => Promise<boolean>): Promise<number | null> {
  const started = performance.now()
  for (;;) {
    if (await check()) return performance.now() - started
    if (performance.now() - started > ms) return null
    await new Promise((r) => setTimeout(r, 25))
  }
}
