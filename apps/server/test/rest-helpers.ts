import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger, TenantId } from '@shiioo/core'
import { FsBlobStore, Projector, ShiiooError, openFsEventLog, silentLogger } from '@shiioo/core'
import type { CallerContext, Orchestrator, OrchestratorConfig } from '@shiioo/orchestrator'
import { CONTROL_PROJECTIONS, createOrchestrator, localCaller } from '@shiioo/orchestrator'
import { openSqliteIndex } from '@shiioo/store-sqlite'
import { Registry } from 'prom-client'
import { expect } from 'vitest'
import type { AppDeps } from '../src/app.js'
import { createApp } from '../src/app.js'
import { createServerMetrics } from '../src/http/metrics.js'
import { REPO_ROOT } from './helpers.js'

export const TOKEN = 'test-token'
export const TESTER: CallerContext = localCaller('tester')
/** A caller of another tenant, for isolation checks. */
export const ACME_TOKEN = 'acme-token'
export const ACME: CallerContext = localCaller('mallory', 'acme' as TenantId)

/** The test tokens are the tester and acme's caller; anything else is refused as the identity service will refuse it. */
export async function authenticate(token: string): Promise<CallerContext> {
  if (token === TOKEN) return TESTER
  if (token === ACME_TOKEN) return ACME
  throw new ShiiooError('UNAUTHENTICATED', 'unknown token')
}

export async function exampleYaml(name: string): Promise<string> {
  return readFile(join(REPO_ROOT, 'examples', 'workflows', `${name}.yaml`), 'utf8')
}

export interface RestStack {
  dir: string
  orchestrator: Orchestrator
  app: ReturnType<typeof createApp>
  deps: AppDeps
  close(): Promise<void>
}

/** A real orchestrator on a temp data dir (filesystem log and blobs, SQLite index) and the app over it. */
export async function openRestStack(
  options: { app?: Partial<AppDeps>; orchestrator?: Partial<OrchestratorConfig>; logger?: Logger } = {},
): Promise<RestStack> {
  const dir = await mkdtemp(join(tmpdir(), 'shiioo-rest-'))
  const log = openFsEventLog({ dataDir: dir })
  const index = openSqliteIndex({ path: join(dir, 'index.sqlite') })
  const orchestrator = createOrchestrator({
    log,
    blobs: new FsBlobStore({ dataDir: dir }),
    index,
    projector: new Projector({ log, index, projections: CONTROL_PROJECTIONS }),
    ...options.orchestrator,
  })
  const deps: AppDeps = {
    version: '1.2.3',
    logger: options.logger ?? silentLogger,
    startedAt: 0,
    clock: { now: () => 5_000 },
    orchestrator,
    authenticate,
    metrics: createServerMetrics(new Registry()),
    ...options.app,
  }
  return {
    dir,
    orchestrator,
    app: createApp(deps),
    deps,
    async close() {
      await orchestrator.close()
      await index.close()
      await log.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export interface CallOptions {
  params?: Record<string, string>
  query?: Record<string, string | number>
  body?: unknown
  /** A raw body (sent as is, with `contentType`). */
  raw?: string
  contentType?: string
  headers?: Record<string, string>
  /** The bearer token (default the test token; null: no Authorization header). */
  token?: string | null
}

/**
 * Calls the app by an operation of its OpenAPI document (method and path template), recording
 * that the operation was exercised, so a test can check that every documented one was.
 */
export function apiClient(app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> }) {
  const covered = new Set<string>()
  async function call(method: string, template: string, options: CallOptions = {}): Promise<Response> {
    covered.add(`${method.toLowerCase()} ${template}`)
    let path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = options.params?.[name]
      if (value === undefined) throw new Error(`no value for {${name}} in ${template}`)
      return value
    })
    if (options.query) {
      const q = new URLSearchParams(Object.entries(options.query).map(([k, v]): [string, string] => [k, String(v)]))
      path += `?${q.toString()}`
    }
    const headers: Record<string, string> = { ...options.headers }
    const token = options.token === undefined ? TOKEN : options.token
    if (token !== null) headers.Authorization = `Bearer ${token}`
    let body: string | undefined
    if (options.raw !== undefined) {
      body = options.raw
      headers['Content-Type'] = options.contentType ?? 'application/json'
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body)
      headers['Content-Type'] = options.contentType ?? 'application/json'
    }
    return app.request(path, { method: method.toUpperCase(), headers, ...(body === undefined ? {} : { body }) })
  }
  return { call, covered }
}

export interface ErrorJson {
  error: {
    code: string
    message: string
    retryable: boolean
    details: Record<string, unknown>
    requestId: string | null
  }
}

/** A successful answer's JSON, after checking its status (the body is shown when it differs). */
export async function okJson<T>(res: Response, status = 200): Promise<T> {
  expect(res.status, await res.clone().text()).toBe(status)
  return (await res.json()) as T
}

/** An error answer in the one error shape, with its status, code and the request's id. */
export async function errorJson(res: Response, status: number, code: string): Promise<ErrorJson['error']> {
  expect(res.status, await res.clone().text()).toBe(status)
  const body = (await res.json()) as ErrorJson
  expect(body.error.code).toBe(code)
  expect(body.error.requestId).toBe(res.headers.get('x-request-id'))
  return body.error
}

/**
 * The covered-operations registry across files: the OpenAPI tags whose operations another file
 * than rest.test.ts exercises. That file checks it called every operation of its tags; rest.test.ts
 * checks every other documented operation.
 */
export const TAGS_TESTED_ELSEWHERE: Readonly<Record<string, string>> = {
  identity: 'rest-identity.test.ts',
  tools: 'rest-tools.test.ts',
}

/** The documented operations (`get /api/runs`) of the app's OpenAPI document, with their tags. */
export async function documentedOperations(app: {
  request: (path: string) => Response | Promise<Response>
}): Promise<Array<{ op: string; tags: string[] }>> {
  const doc = (await (await app.request('/api/openapi.json')).json()) as {
    paths: Record<string, Record<string, { tags?: string[] }>>
  }
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ op: `${method} ${path}`, tags: operation.tags ?? [] })),
  )
}
