import { afterEach, describe, expect, it, vi } from 'vitest'
import { FakeClock } from '@shiioo/testkit'
import { localCaller, systemCaller } from '../src/index.js'
import { eventOf, example, recordingLogger, testStacks, waitsForApproval } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const alice = localCaller('alice')
const SCAN_MS = 30_000

describe('the supervisor', () => {
  it('catches the index up at start, takes over every scan the runs another process left, and stops', async () => {
    const dir = await stacks.tempDir()
    const clock = new FakeClock()
    const logger = recordingLogger()
    const server = stacks.open(dir, { clock, logger })
    const supervisor = await server.orchestrator.supervise(systemCaller('server'), { scanMs: SCAN_MS })
    expect(supervisor.caughtUp).toEqual({ streams: 0, events: 0, runs: 0, failed: [] })
    const scans = () => logger.lines.filter((l) => l.message === 'scanned for unfinished runs').length

    // another process starts a run and stops while it waits for an approval
    const other = stacks.open(dir)
    const { runId } = await other.orchestrator.runs.start(alice, {
      source: await example('approval-gate'),
      input: { version: 'v1' },
    })
    await eventOf(other.orchestrator, alice, runId, waitsForApproval)
    await other.close()

    expect(logger.lines.filter((l) => l.message === 'took over unfinished runs')).toEqual([])
    clock.advance(SCAN_MS)
    await vi.waitFor(() =>
      expect(logger.lines.filter((l) => l.message === 'took over unfinished runs')).toMatchObject([
        { level: 'info', context: { running: 1, paused: 0, runIds: [runId] } },
      ]),
    )
    // the run is driven here now: a decision continues it to the end
    await server.orchestrator.runs.decide(alice, runId, { stepId: 'review', decision: 'approve' })
    expect((await server.orchestrator.runs.wait(alice, runId)).status).toBe('completed')

    clock.advance(SCAN_MS)
    await vi.waitFor(() => expect(scans()).toBe(1))
    await supervisor.stop()
    clock.advance(10 * SCAN_MS)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(scans()).toBe(1)
  })

  it('stops with the orchestrator', async () => {
    const clock = new FakeClock()
    const logger = recordingLogger()
    const { orchestrator } = stacks.open(await stacks.tempDir(), { clock, logger })
    await orchestrator.supervise(systemCaller('server'), { scanMs: SCAN_MS })
    await orchestrator.close()
    clock.advance(10 * SCAN_MS)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(logger.lines.filter((l) => l.message === 'scanned for unfinished runs')).toEqual([])
  })
})
