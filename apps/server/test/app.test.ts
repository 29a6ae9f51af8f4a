import { ShiiooError, silentLogger } from '@shiioo/core'
import type { ErrorCode, Logger } from '@shiioo/core'
import { ERROR_CODES } from '@shiioo/core'
import { describe, expect, it } from 'vitest'
import { createApp } from '../src/index.js'
import { HTTP_STATUS } from '../src/http/errors.js'

function appAt(now: number, logger: Logger = silentLogger) {
  return createApp({ version: '1.2.3', logger, startedAt: 1_000_000, clock: { now: () => now } })
}

describe('createApp', () => {
  it('answers GET /api/health with status, version and uptime, and no paths', async () => {
    const res = await appAt(1_000_000 + 65_500).request('/api/health')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/application\/json/)
    expect(await res.json()).toEqual({ status: 'ok', version: '1.2.3', uptimeSeconds: 65 })
  })

  it('serves the placeholder page at /', async () => {
    const res = await appAt(0).request('/')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    const html = await res.text()
    expect(html).toContain('dashboard coming soon')
    expect(html).toContain('href="/api/health"')
  })

  it('answers an unknown /api route with a JSON 404, not the page', async () => {
    for (const path of ['/api/x', '/api', '/api/health/extra']) {
      const res = await appAt(0).request(path)
      expect(res.status).toBe(404)
      expect(res.headers.get('content-type')).toMatch(/application\/json/)
      const body = (await res.json()) as { error: { code: string; retryable: boolean } }
      expect(body.error).toMatchObject({ code: 'NOT_FOUND', retryable: false })
    }
  })

  it('maps a ShiiooError to its status and a JSON body', async () => {
    const app = appAt(0)
    app.get('/api/limited', () => {
      throw new ShiiooError('RATE_LIMITED', 'slow down')
    })
    const res = await app.request('/api/limited')
    expect(res.status).toBe(429)
    expect(await res.json()).toEqual({ error: { code: 'RATE_LIMITED', message: 'slow down', retryable: true } })
  })

  it('turns any other failure into a generic INTERNAL 500 and logs the details', async () => {
    const logged: Array<{ message: string; context?: Record<string, unknown> }> = []
    const logger: Logger = {
      ...silentLogger,
      error: (message, context) => logged.push({ message, context }),
      child: () => logger,
    }
    const app = appAt(0, logger)
    app.get('/api/boom', () => {
      throw new Error('secret detail at /var/lib/shiioo')
    })
    const res = await app.request('/api/boom')
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(text).not.toContain('secret detail')
    expect(text).not.toMatch(/\n\s+at /)
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'INTERNAL', retryable: false } })
    expect(logged).toHaveLength(1)
  })

  it('has an HTTP status for every error code', () => {
    const expected: Record<ErrorCode, number> = {
      INVALID_INPUT: 400,
      UNAUTHENTICATED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      CONFLICT: 409,
      LEASE_LOST: 409,
      GONE: 410,
      PAYLOAD_TOO_LARGE: 413,
      QUOTA_EXCEEDED: 429,
      BUDGET_EXCEEDED: 402,
      RATE_LIMITED: 429,
      UNAVAILABLE: 503,
      DATA_CORRUPTED: 500,
      INTERNAL: 500,
    }
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort())
    expect(HTTP_STATUS).toEqual(expected)
  })
})
