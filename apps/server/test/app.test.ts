import { ShiiooError, silentLogger } from '@shiioo/core'
import type { ErrorCode, Logger } from '@shiioo/core'
import { ERROR_CODES } from '@shiioo/core'
import { afterEach, describe, expect, it } from 'vitest'
import { HTTP_STATUS } from '../src/http/errors.js'
import type { RestStack } from './rest-helpers.js'
import { openRestStack } from './rest-helpers.js'

const opened: RestStack[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()))
})

async function appWith(logger: Logger = silentLogger) {
  const stack = await openRestStack({ logger })
  opened.push(stack)
  return stack.app
}

const auth = { headers: { Authorization: 'Bearer test-token', 'X-Request-Id': 'req-1' } }

describe('createApp errors', () => {
  it('maps a ShiiooError to its status and the error shape', async () => {
    const app = await appWith()
    app.get('/api/limited', () => {
      throw new ShiiooError('RATE_LIMITED', 'slow down', { details: { retryAfterMs: 1000 } })
    })
    const res = await app.request('/api/limited', auth)
    expect(res.status).toBe(429)
    expect(await res.json()).toEqual({
      error: {
        code: 'RATE_LIMITED',
        message: 'slow down',
        retryable: true,
        details: { retryAfterMs: 1000 },
        requestId: 'req-1',
      },
    })
  })

  it('turns any other failure into a generic INTERNAL 500 and logs the details', async () => {
    const logged: Array<{ message: string; context?: Record<string, unknown> }> = []
    const logger: Logger = {
      ...silentLogger,
      error: (message, context) => logged.push({ message, context }),
      child: () => logger,
    }
    const app = await appWith(logger)
    app.get('/api/boom', () => {
      throw new Error('secret detail at /var/lib/shiioo')
    })
    const res = await app.request('/api/boom', auth)
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(text).not.toContain('secret detail')
    expect(text).not.toMatch(/\n\s+at /)
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'INTERNAL', retryable: false, requestId: 'req-1' } })
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
