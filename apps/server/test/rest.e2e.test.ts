import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServeHandle } from './helpers.js'
import { assertBuilt, startServe, tempDirs } from './helpers.js'

const dirs = tempDirs()
let server: ServeHandle

beforeAll(async () => {
  assertBuilt()
  const cwd = await dirs.make()
  server = await startServe(['--port', '0', '--log-level', 'warn'], { cwd })
})
afterAll(async () => {
  const result = await server?.stop('SIGTERM')
  await dirs.cleanup()
  expect(result?.code).toBe(0)
})

/** A request with the path sent exactly as written (fetch would normalize `..` and `%2e%2e`). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method: 'GET', headers }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (s: string) => (body += s))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.once('error', reject)
    req.end()
  })
}

describe('shiioo serve: the REST API over HTTP', () => {
  it('answers health, live and ready without a token once the index has caught up', async () => {
    expect(await (await fetch(`${server.url}/api/health/live`)).json()).toEqual({ status: 'ok' })
    let ready = await fetch(`${server.url}/api/health/ready`)
    for (let i = 0; i < 100 && ready.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50))
      ready = await fetch(`${server.url}/api/health/ready`)
    }
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ status: 'ready', checks: { indexCaughtUp: true, dataDirOpen: true } })
    const health = await fetch(`${server.url}/api/health`, { headers: { 'X-Request-Id': 'probe-1' } })
    expect(health.headers.get('x-request-id')).toBe('probe-1')
    expect(await health.json()).toMatchObject({ status: 'ok' })
    // GraphQL's answers are made by yoga, not by hono's helpers: the id is set on them too, and
    // CORS stays closed there as everywhere (no origins configured)
    const graphql = await fetch(`${server.url}/api/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'probe-2', Origin: 'https://elsewhere.example' },
      body: JSON.stringify({ query: '{ __typename }' }),
    })
    expect(graphql.headers.get('x-request-id')).toBe('probe-2')
    expect(graphql.headers.get('content-type')).toMatch(/json/)
    expect(graphql.headers.get('access-control-allow-origin')).toBeNull()
    expect(graphql.headers.get('access-control-allow-credentials')).toBeNull()
  })

  it('serves the OpenAPI document and the reference page with its bundled assets', async () => {
    const doc = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      openapi: string
      paths: Record<string, unknown>
    }
    expect(doc.openapi).toBe('3.1.0')
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/runs', '/api/runs/{runId}', '/metrics']))
    const page = await fetch(`${server.url}/api/docs`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'")
    for (const asset of ['swagger-ui.css', 'swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'init.js']) {
      const res = await fetch(`${server.url}/api/docs/${asset}`)
      expect(res.status, asset).toBe(200)
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(100)
    }
  })

  it('refuses every API call without a valid token with 401 in the error shape (identity is not merged yet)', async () => {
    for (const [path, init] of [
      ['/api/runs', {}],
      ['/api/runs', { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } }],
      ['/metrics', {}],
      ['/api/audit/verify', { headers: { Authorization: 'Bearer anything' } }],
    ] as Array<[string, RequestInit]>) {
      const res = await fetch(`${server.url}${path}`, init)
      expect(res.status, path).toBe(401)
      expect(res.headers.get('www-authenticate'), path).toMatch(/^Bearer/)
      const body = (await res.json()) as { error: { code: string; requestId: string } }
      expect(body.error, path).toMatchObject({ code: 'UNAUTHENTICATED', requestId: res.headers.get('x-request-id') })
    }
  })

  it('answers path tricks sent as written with a 4xx, never a 5xx', async () => {
    for (const path of [
      '/api/runs/../../etc/passwd',
      '/api/runs/%2e%2e/%2e%2e/etc/passwd',
      '/api/docs/../../package.json',
      '/api/docs/..%2F..%2Fpackage.json',
      '/api/docs/%2e%2e%2fpackage.json',
      '/api/health/..%2F..%2Fruns',
    ]) {
      const res = await rawGet(path)
      expect(res.status, path).toBeGreaterThanOrEqual(400)
      expect(res.status, path).toBeLessThan(500)
      expect(res.body, path).not.toContain('"name": "swagger-ui-dist"')
    }
  })
  it('refuses bodies over the limit (1 MiB) with 413, by Content-Length or as they stream, GraphQL included', async () => {
    const big = JSON.stringify({ query: `{ __typename } # ${'x'.repeat(1024 * 1024)}` })
    const headers = { Authorization: 'Bearer none-needed-for-this', 'Content-Type': 'application/json' }
    for (const path of ['/api/runs', '/api/graphql']) {
      const sized = await fetch(`${server.url}${path}`, { method: 'POST', headers, body: big })
      expect(sized.status, path).toBe(413)
      expect(((await sized.json()) as { error: { code: string } }).error.code, path).toBe('PAYLOAD_TOO_LARGE')
      // no Content-Length: counted as it arrives
      const streamed = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers,
        body: new Blob([big]).stream(),
        duplex: 'half',
      } as RequestInit)
      expect(streamed.status, path).toBe(413)
    }
  })
})
