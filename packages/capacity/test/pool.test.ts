import { ShiiooError } from '@shiioo/core'
import { FakeClock } from '@shiioo/testkit'
import { describe, expect, it } from 'vitest'
import type { CallRecord, CapacitySource, ChatRequest, ChatResponse, PoolCall, Provider } from '../src/index.js'
import { CapacityPool } from '../src/index.js'

/** A provider whose calls the test answers by hand, one by one. */
class HandProvider implements Provider {
  readonly kind = 'hand'
  readonly calls: { request: ChatRequest; answer: (r?: Partial<ChatResponse>) => void; fail: (e: Error) => void }[] = []
  chat(request: ChatRequest): Promise<ChatResponse> {
    return new Promise((resolve, reject) => {
      this.calls.push({
        request,
        answer: (r = {}) =>
          resolve({
            text: 'ok',
            toolCalls: [],
            stopReason: 'end',
            usage: { inputTokens: 10, outputTokens: 5 },
            model: request.model,
            ...r,
          }),
        fail: reject,
      })
    })
  }
  answerAll(): void {
    for (const c of this.calls.splice(0)) c.answer()
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0))
const chat: PoolCall['chat'] = { messages: [{ role: 'user', content: 'hello' }], maxTokens: 100 }
const call = (over: Partial<PoolCall> = {}): PoolCall => ({ tenant: 'acme', model: 'm1', chat, ...over })

function source(id: string, provider: Provider, over: Partial<CapacitySource> = {}): CapacitySource {
  return { id, provider, models: ['m1'], ...over }
}

describe('capacity pool', () => {
  it('queues calls beyond a source requests-per-minute instead of sending them, and admits them as the window frees', async () => {
    const clock = new FakeClock()
    const p = new HandProvider()
    const pool = new CapacityPool({
      clock,
      windowSlackMs: 0,
      sources: [source('a', p, { limits: { requestsPerMinute: 2 } })],
    })
    const results = Array.from({ length: 5 }, () => pool.call(call()))
    await tick()
    expect(p.calls).toHaveLength(2)
    expect(pool.queued).toBe(3)
    p.answerAll()
    await tick()
    expect(p.calls).toHaveLength(0) // answered calls still count for the minute
    clock.advance(60_000)
    await tick()
    expect(p.calls).toHaveLength(2)
    p.answerAll()
    clock.advance(60_000)
    await tick()
    p.answerAll()
    const done = await Promise.all(results)
    expect(done.map((r) => r.sourceId)).toEqual(['a', 'a', 'a', 'a', 'a'])
    expect(done[4]!.queuedMs).toBe(120_000)
  })

  it('respects tokens per minute with the estimate, and settles to the real usage', async () => {
    const clock = new FakeClock()
    const p = new HandProvider()
    // each call is estimated at 100 (max tokens) + 4 tokens; 250 fits two
    const pool = new CapacityPool({ clock, sources: [source('a', p, { limits: { tokensPerMinute: 250 } })] })
    const all = Array.from({ length: 3 }, () => pool.call(call()))
    await tick()
    expect(p.calls).toHaveLength(2)
    p.answerAll() // real usage 15 each: the third now fits
    await tick()
    expect(p.calls).toHaveLength(1)
    p.answerAll()
    await Promise.all(all)
  })

  it('caps calls in flight per source', async () => {
    const p = new HandProvider()
    const pool = new CapacityPool({
      clock: new FakeClock(),
      sources: [source('a', p, { limits: { maxConcurrent: 3 } })],
    })
    const all = Array.from({ length: 7 }, () => pool.call(call()))
    await tick()
    expect(p.calls).toHaveLength(3)
    p.calls.shift()!.answer()
    await tick()
    expect(p.calls).toHaveLength(3)
    while (p.calls.length > 0) {
      p.answerAll()
      await tick()
    }
    expect((await Promise.all(all)).length).toBe(7)
  })

  it('fails over on a 429 and cools the source for its Retry-After', async () => {
    const clock = new FakeClock()
    const a = new HandProvider()
    const b = new HandProvider()
    const pool = new CapacityPool({ clock, sources: [source('a', a, { priority: 1 }), source('b', b)] })
    const first = pool.call(call())
    await tick()
    a.calls.shift()!.fail(new ShiiooError('RATE_LIMITED', '429', { details: { retryAfterMs: 5000 } }))
    await tick()
    expect(b.calls).toHaveLength(1)
    b.answerAll()
    expect(await first).toMatchObject({ sourceId: 'b', attempts: 2 })
    const second = pool.call(call())
    await tick()
    expect(b.calls).toHaveLength(1) // a is cooling down
    b.answerAll()
    await second
    clock.advance(5000)
    const third = pool.call(call())
    await tick()
    expect(a.calls).toHaveLength(1) // a is preferred again
    a.answerAll()
    await third
  })

  it('opens a breaker after repeated failures, then lets one probe through after its cooldown', async () => {
    const clock = new FakeClock()
    const a = new HandProvider()
    const b = new HandProvider()
    const pool = new CapacityPool({
      clock,
      breakerThreshold: 2,
      breakerOpenMs: 10_000,
      sources: [source('a', a, { priority: 1 }), source('b', b)],
    })
    for (let i = 0; i < 2; i++) {
      const r = pool.call(call())
      await tick()
      a.calls.shift()!.fail(new ShiiooError('UNAVAILABLE', '503', { details: { kind: 'server' } }))
      await tick()
      b.answerAll()
      expect((await r).sourceId).toBe('b')
    }
    const during = pool.call(call())
    await tick()
    expect(a.calls).toHaveLength(0)
    b.answerAll()
    await during
    clock.advance(10_000)
    const probe = pool.call(call())
    const blocked = pool.call(call())
    await tick()
    expect(a.calls).toHaveLength(1) // one probe only
    expect(b.calls).toHaveLength(1)
    a.answerAll()
    b.answerAll()
    await Promise.all([probe, blocked])
    const healed = pool.call(call())
    await tick()
    expect(a.calls).toHaveLength(1)
    a.answerAll()
    await healed
  })

  it('serves tenants fairly and higher priority first when capacity is short', async () => {
    const p = new HandProvider()
    const pool = new CapacityPool({
      clock: new FakeClock(),
      sources: [source('a', p, { limits: { maxConcurrent: 1 } })],
    })
    const order: string[] = []
    const track = (tenant: string, priority = 0) =>
      pool.call(call({ tenant, priority })).then(() => void order.push(`${tenant}${priority ? '!' : ''}`))
    const all = [...Array.from({ length: 4 }, () => track('big')), track('small'), track('small', 5)]
    for (let i = 0; i < 6; i++) {
      await tick()
      p.answerAll()
      await tick()
    }
    await Promise.all(all)
    expect(order[0]).toBe('big') // admitted before the others arrived
    expect(order[1]).toBe('small!')
    expect(order.indexOf('small')).toBeLessThan(order.lastIndexOf('big'))
  })

  it('rejects at once what no source can serve, and does not fail over on a bad request', async () => {
    const p = new HandProvider()
    const pool = new CapacityPool({
      clock: new FakeClock(),
      sources: [source('a', p, { tenants: ['acme'] }), source('b', new HandProvider(), { enabled: false })],
    })
    await expect(pool.call(call({ model: 'gpt-9' }))).rejects.toThrow(
      'no capacity source serves model "gpt-9" to tenant acme; models: m1',
    )
    await expect(pool.call(call({ tenant: 'other' }))).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    const r = pool.call(call())
    await tick()
    p.calls.shift()!.fail(new ShiiooError('INVALID_INPUT', 'max_tokens too large'))
    await expect(r).rejects.toThrow('max_tokens too large')
  })

  it('gives up after maxWaitMs with a typed error, and on abort', async () => {
    const clock = new FakeClock()
    const p = new HandProvider()
    const pool = new CapacityPool({ clock, sources: [source('a', p, { limits: { maxConcurrent: 1 } })] })
    const first = pool.call(call())
    const waits = pool.call(call({ maxWaitMs: 1000 }))
    const controller = new AbortController()
    const aborted = pool.call(call({ signal: controller.signal }))
    controller.abort(new ShiiooError('UNAVAILABLE', 'run cancelled'))
    await expect(aborted).rejects.toThrow('run cancelled')
    clock.advance(1000)
    await expect(waits).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'no capacity for "m1" within 1000 ms' })
    await tick()
    p.answerAll()
    await first
    expect(pool.queued).toBe(0)
  })

  it('records every provider call with tokens and cost for the ledger', async () => {
    const records: CallRecord[] = []
    const p = new HandProvider()
    const pool = new CapacityPool({
      clock: new FakeClock(),
      onCall: (r) => records.push(r),
      sources: [source('a', p, { prices: { inputPer1M: 3, outputPer1M: 15 } })],
    })
    const r = pool.call(call({ role: 'writer', context: { runId: 'run_x', stepId: 'draft' } }))
    await tick()
    p.calls.shift()!.answer({ usage: { inputTokens: 1000, outputTokens: 200 } })
    const result = await r
    expect(result.cost).toBeCloseTo(0.006)
    expect(records).toEqual([
      expect.objectContaining({
        sourceId: 'a',
        tenant: 'acme',
        role: 'writer',
        inputTokens: 1000,
        outputTokens: 200,
        ok: true,
        context: { runId: 'run_x', stepId: 'draft' },
      }),
    ])
  })
})
