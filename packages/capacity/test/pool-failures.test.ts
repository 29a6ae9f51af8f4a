import type { LogContext, Logger } from '@shiioo/core'
import { isShiiooError } from '@shiioo/core'
import type { LlmTestServer } from '@shiioo/testkit'
import { startLlmTestServer } from '@shiioo/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CapacityPool } from '../src/index.js'
import { anthropicProvider } from '../src/providers/anthropic.js'
import { openAiProvider } from '../src/providers/openai.js'

const KEY = 'sk-pool-failure-secret-0001'

/** Every line logged, with its level and context. */
function recordingLogger(lines: Array<{ level: string; message: string; context: LogContext }>): Logger {
  const at =
    (level: string) =>
    (message: string, context: LogContext = {}) =>
      void lines.push({ level, message, context })
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  }
  return logger
}

let llm: LlmTestServer
beforeAll(async () => {
  llm = await startLlmTestServer({ apiKey: KEY })
  // a vendor failure whose message echoes the credentials the request carried
  llm.setReply((r) => {
    throw new Error(`upstream refused ${r.headers.authorization ?? r.headers['x-api-key'] ?? '-'}`)
  })
})
afterAll(() => llm.close())

describe.each([
  {
    vendor: 'openai',
    provider: () => openAiProvider({ baseUrl: llm.openAiBaseUrl, apiKey: KEY }),
    cause: 'openai answered 500 server_error: The reply script failed: upstream refused Bearer [redacted]',
  },
  {
    vendor: 'anthropic',
    provider: () => anthropicProvider({ baseUrl: llm.anthropicBaseUrl, apiKey: KEY }),
    cause: 'anthropic answered 500 api_error: The reply script failed: upstream refused [redacted]',
  },
])('a failing $vendor source', ({ provider, cause }) => {
  it('logs the cause of each failover at warn (status, vendor type and message, request id; never the key) and fails the call with it', async () => {
    llm.reset()
    const lines: Array<{ level: string; message: string; context: LogContext }> = []
    const pool = new CapacityPool({
      sources: [
        { id: 'first', provider: provider(), models: ['m'] },
        { id: 'second', provider: provider(), models: ['m'] },
      ],
      maxAttempts: 2,
      logger: recordingLogger(lines),
    })
    const error = await pool
      .call({ tenant: 'default', model: 'm', chat: { messages: [{ role: 'user', content: 'hi' }] } })
      .then(
        () => null,
        (e: unknown) => e,
      )
    pool.close()
    expect(llm.requests.map((r) => r.status)).toEqual([500, 500])

    expect(isShiiooError(error)).toBe(true)
    expect((error as Error).message).toBe(`${cause} (request id req_2)`)

    const failover = lines.find((l) => l.message === 'capacity source failed; failing over')
    expect(failover?.level).toBe('warn')
    expect(failover?.context).toEqual({
      source: 'first',
      to: ['second'],
      attempt: 1,
      maxAttempts: 2,
      code: 'UNAVAILABLE',
      cause: `${cause} (request id req_1)`,
      status: 500,
      type: cause.includes('openai') ? 'server_error' : 'api_error',
      requestId: 'req_1',
      kind: 'server',
    })
    const final = lines.find((l) => l.message === 'capacity call failed')
    expect(final?.level).toBe('warn')
    expect(final?.context).toMatchObject({ source: 'second', attempts: 2, status: 500, requestId: 'req_2' })

    expect(JSON.stringify(lines)).not.toContain(KEY)
    expect(JSON.stringify(lines) + String(error)).toContain('[redacted]')
  })
})
