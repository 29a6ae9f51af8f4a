import { afterEach, describe, expect, it } from 'vitest'
import type { TenantId } from '@shiioo/core'
import { isShiiooError } from '@shiioo/core'
import type { AgentTextView, CallerContext } from '../src/index.js'
import { localCaller } from '../src/index.js'
import { AgentTextChannel } from '../src/live/agent-text.js'
import { example, testStacks } from './stack.js'

const alice: CallerContext = localCaller('alice')
const mallory: CallerContext = localCaller('mallory', 'other' as TenantId)
const stacks = testStacks()
afterEach(() => stacks.cleanup())

const piece = (runId: string, delta: string) => ({
  runId,
  stepId: 's',
  item: null,
  attempt: 1,
  turn: 1,
  call: 1,
  source: 'x',
  delta,
})

describe("agents' live text", () => {
  it("reaches a subscriber of the caller's runs as the stand-in produces it; another tenant hears nothing", async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const stop = new AbortController()
    const heard: AgentTextView[] = []
    const foreign: AgentTextView[] = []
    const mine = await o.live.agentText(alice, {}, stop.signal)
    const theirs = await o.live.agentText(mallory, {}, stop.signal)
    const listening = (async () => {
      for await (const batch of mine) {
        heard.push(...batch)
        if (
          heard
            .map((d) => d.delta)
            .join('')
            .includes('covering')
        )
          break
      }
    })()
    void (async () => {
      for await (const batch of theirs) foreign.push(...batch)
    })()
    const run = await o.runs.start(alice, { source: await example('approval-gate'), input: { version: '9.1' } })
    await listening
    stop.abort()
    expect(new Set(heard.map((d) => `${d.runId}/${d.stepId}/${d.turn}/${d.source}`))).toEqual(
      new Set([`${run.runId}/draft/1/stand-in`]),
    )
    expect(heard.map((d) => d.delta).join('')).toMatch(/^\[stand-in writer\] Write release notes for version 9\.1/)
    expect(foreign).toEqual([])
    // one run: another tenant's is answered as one that does not exist
    const refused = await o.live.agentText(mallory, { runId: run.runId }, stop.signal).catch((e: unknown) => e)
    expect(isShiiooError(refused) && refused.code).toBe('NOT_FOUND')
  })

  it('keeps apart tenants and runs, drops the oldest pieces of a subscriber that falls behind, and ends on abort', async () => {
    const channel = new AgentTextChannel()
    const stop = new AbortController()
    const one = channel.subscribe('default' as TenantId, 'run_a', stop.signal)[Symbol.asyncIterator]()
    const all = channel.subscribe('default' as TenantId, undefined, stop.signal)[Symbol.asyncIterator]()
    channel.publish('default' as TenantId, piece('run_b', 'b'))
    channel.publish('elsewhere' as TenantId, piece('run_a', 'not yours'))
    for (let i = 0; i < 10_005; i++) channel.publish('default' as TenantId, piece('run_a', String(i)))
    const batch = (await one.next()).value as AgentTextView[]
    // 10,000 waited when the 10,001st came: those were dropped and counted on the next one
    expect(batch.map((d) => d.delta)).toEqual(['10000', '10001', '10002', '10003', '10004'])
    expect(batch.map((d) => d.skipped)).toEqual([10_000, 0, 0, 0, 0])
    const wide = (await all.next()).value as AgentTextView[]
    // run_b's piece and 9,999 of run_a's filled it: the 10,000th waits behind a count of them
    expect(wide.map((d) => [d.delta, d.skipped])).toEqual([['9999', 10_000], ...batch.map((d) => [d.delta, 0])])
    const waiting = one.next()
    stop.abort()
    expect((await waiting).done).toBe(true)
  })
})
