import type { AppendRequest, EventLog, Json, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, ShiiooError } from '@shiioo/core'
import { FakeClock } from '@shiioo/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import type { AgentRunner, EngineOptions, WorkflowSpec } from '../../src/index.js'
import { Engine, toolInvoker } from '../../src/index.js'
import type { Harness } from './harness.js'
import { openHarness, workflow } from './harness.js'

/**
 * The limits the event log and the event schemas impose are met by the engine: a fan-out larger
 * than one append goes over several commits, and a value the log could not hold fails its step
 * (or the run) with a final error naming the limit. A refusal that slips past them fails the run
 * instead of being retried, and a log that cannot be read stops the driver with its error.
 */

const T: TenantId = DEFAULT_TENANT
let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

function nest(levels: number, leaf: Json = 1): Json {
  let v = leaf
  for (let i = 0; i < levels; i++) v = [v]
  return v
}

/** Records the number of events in every append (the log's own limit is 10,000). */
function countingLog(log: EventLog, sizes: number[]): EventLog {
  return new Proxy(log, {
    get(target, key, receiver) {
      if (key === 'append') {
        return (r: AppendRequest) => {
          sizes.push(r.events.length)
          return target.append(r)
        }
      }
      return Reflect.get(target, key, receiver) as unknown
    },
  })
}

async function engineWith(options: Partial<EngineOptions>, wrap?: (log: EventLog) => EventLog): Promise<Engine> {
  const harness = await openHarness()
  const engine = new Engine({ ...options, log: wrap ? wrap(harness.log) : harness.log, blobs: harness.blobs })
  h = {
    ...harness,
    close: async () => {
      await engine.close()
      await harness.close()
    },
  }
  return engine
}

async function runToEnd(engine: Engine, spec: WorkflowSpec, input: Record<string, unknown> = {}) {
  const { runId } = await engine.start({ definition: workflow(spec), input })
  return { runId, end: await engine.wait(T, runId) }
}

describe('engine: a fan-out larger than an append', () => {
  it('a foreach of 5,000 transforms after an agent step completes over commits of at most 1,000 events', async () => {
    const sizes: number[] = []
    const engine = await engineWith({}, (log) => countingLog(log, sizes))
    const { runId, end } = await runToEnd(
      engine,
      {
        name: 'fan',
        inputs: { n: { type: 'array' } },
        steps: [
          { id: 'a', kind: 'agent', role: 'analyst', prompt: 'hi' },
          {
            id: 'many',
            kind: 'foreach',
            needs: ['a'],
            items: 'inputs.n',
            step: { kind: 'transform', output: '${{ item * 2 }}' },
          },
        ],
        output: '${{ size(steps.many.output) }}',
      },
      { n: Array.from({ length: 5000 }, (_, i) => i) },
    )
    expect(end.status).toBe('completed')
    expect(end.output).toEqual({ inline: 5000 })
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1000)
    expect(sizes.length).toBeGreaterThan(10)
    expect(await engine.replay(T, runId)).toMatchObject({ ok: true, mismatches: [] })
  })

  it('results and starts beyond a small commit limit wait for the next commit', async () => {
    const sizes: number[] = []
    const clock = new FakeClock()
    const engine = await engineWith({ clock, maxEventsPerCommit: 20 }, (log) => countingLog(log, sizes))
    const { runId } = await engine.start({
      definition: workflow({
        name: 'small-commits',
        steps: [
          {
            id: 'each',
            kind: 'foreach',
            items: '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25]',
            step: { kind: 'tool', tool: 'core.echo', input: { n: '${{ item }}' } },
          },
          {
            id: 'nap',
            kind: 'foreach',
            needs: ['each'],
            items: 'steps.each.output',
            step: { kind: 'wait', duration: '1s' },
          },
        ],
      }),
    })
    const done = engine.wait(T, runId)
    let finished = false
    void done.then(() => (finished = true))
    for (let i = 0; i < 200 && !finished; i++) {
      clock.advance(500)
      await new Promise((r) => setTimeout(r, 5))
    }
    expect((await done).status).toBe('completed')
    expect(Math.max(...sizes)).toBeLessThanOrEqual(20)
    expect(await engine.replay(T, runId)).toMatchObject({ ok: true, mismatches: [] })
  })
})

describe('engine: every commit makes progress', () => {
  it('a commit limit smaller than one unit still lets every plan record one unit', async () => {
    const sizes: number[] = []
    const engine = await engineWith({ maxEventsPerCommit: 1 }, (log) => countingLog(log, sizes))
    const { end } = await runToEnd(engine, {
      name: 'tiny-commits',
      steps: [{ id: 'each', kind: 'foreach', items: '[1, 2, 3]', step: { kind: 'transform', output: '${{ item }}' } }],
    })
    expect(end.status).toBe('completed')
    // the first: run.started, the foreach's start, and its first item's start and completion
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4)
    expect(sizes.length).toBeGreaterThanOrEqual(3)
  })
})

describe('engine: a value the log cannot hold fails its step, finally, naming the limit', () => {
  it('a transform that renders deeper than 64 levels fails once, whatever its retry policy', async () => {
    const engine = await engineWith({})
    const { end } = await runToEnd(
      engine,
      {
        name: 'deep',
        inputs: { v: { type: 'array' } },
        steps: [
          {
            id: 't',
            kind: 'transform',
            output: { wrap: ['${{ inputs.v }}'] },
            retry: { maxAttempts: 5, retryOn: ['INVALID_INPUT'] },
          },
        ],
      },
      { v: nest(63) },
    )
    expect(end.status).toBe('failed')
    expect(end.steps.t).toMatchObject({ status: 'failed', attempt: 1 })
    expect(end.error).toEqual({
      code: 'INVALID_INPUT',
      message: 'the output of step "t" nests lists and objects more than 64 levels deep, the most an event may hold',
      retryable: false,
    })
  })

  it("a foreach item's output may nest one level less, since the foreach's output lists it", async () => {
    const engine = await engineWith({})
    const { end } = await runToEnd(
      engine,
      {
        name: 'items',
        inputs: { v: { type: 'array' } },
        steps: [
          {
            id: 'each',
            kind: 'foreach',
            items: '[0, 1]',
            step: { kind: 'transform', output: '${{ index == 1 ? [inputs.v] : [0] }}' },
          },
        ],
      },
      { v: nest(63) },
    )
    expect(end.status).toBe('failed')
    expect(end.steps.each!.items![0]).toMatchObject({ status: 'completed' })
    expect(end.steps.each!.items![1]!.error?.message).toBe(
      'the output of item 1 of step "each" nests lists and objects more than 63 levels deep, the most a foreach ' +
        "item's output may (the foreach's output lists the items' outputs, which an event holds at most 64 levels deep)",
    )
  })

  it('a tool output too deep, not JSON, or over maxValueBytes fails the step and nothing retries it', async () => {
    let calls = 0
    const answers: Record<string, unknown> = { deep: nest(70), nan: { x: Number.NaN }, big: 'x'.repeat(5000) }
    const engine = await engineWith({
      maxValueBytes: 4096,
      tools: toolInvoker({
        'test.answer': (r) => {
          calls++
          return answers[(r.input as { what: string }).what] as Json
        },
      }),
    })
    const messages: Record<string, string> = {
      deep: 'the output of step "call" nests lists and objects more than 64 levels deep, the most an event may hold',
      nan: 'the output of step "call" is not JSON data: it holds the number NaN',
      big: 'the output of step "call" is 5002 bytes of JSON, over the 4096-byte limit for a recorded value',
    }
    for (const what of Object.keys(answers)) {
      calls = 0
      const { end } = await runToEnd(engine, {
        name: `tool-${what}`,
        steps: [
          {
            id: 'call',
            kind: 'tool',
            tool: 'test.answer',
            input: { what },
            retry: { maxAttempts: 3, retryOn: ['INVALID_INPUT', 'PAYLOAD_TOO_LARGE'] },
          },
        ],
      })
      expect(end.status).toBe('failed')
      expect(end.steps.call!.error).toEqual({
        code: what === 'big' ? 'PAYLOAD_TOO_LARGE' : 'INVALID_INPUT',
        message: messages[what],
        retryable: false,
      })
      expect(calls).toBe(1)
    }
  })

  it('an approval question over 20,000 characters, a foreach over more items than events number, a wait past year 9999', async () => {
    const engine = await engineWith({})
    const cases: Array<[WorkflowSpec['steps'][number], string]> = [
      [
        { id: 's', kind: 'approval', prompt: '${{ inputs.q }}' },
        'the question of step "s" is 20001 characters long, more than the 20000 an approval may ask',
      ],
      [
        { id: 's', kind: 'foreach', items: 'inputs.many', step: { kind: 'transform', output: 1 } },
        'step "s" fans out over 1000002 items, more than the 1000001 a foreach may have',
      ],
      [
        { id: 's', kind: 'wait', until: "'9999-12-31T23:00:00-05:00'" },
        'the wait ends at 253402315200000 ms since 1970, outside the years 0000-9999 an event can record',
      ],
    ]
    const input = { q: 'q'.repeat(20_001), many: new Array<number>(1_000_002).fill(0) }
    for (const [step, message] of cases) {
      const { end } = await runToEnd(
        engine,
        {
          name: 'limits',
          inputs: { q: { type: 'string', required: true }, many: { type: 'array', required: true } },
          steps: [step],
        },
        input,
      )
      expect(end.status).toBe('failed')
      expect(end.steps.s!.error?.message).toBe(message)
    }
  })

  it("a model turn the log would refuse fails the agent's attempt, naming the field", async () => {
    const agents: AgentRunner = {
      run: async (r) => {
        await r.record({
          turn: 1,
          model: 'm'.repeat(300),
          source: 'test',
          usage: { inputTokens: 1, outputTokens: 1 },
          cost: 0,
          request: r.prompt,
          response: 'ok',
        })
        return { output: { text: 'ok' } }
      },
    }
    const engine = await engineWith({ agents })
    const { end } = await runToEnd(engine, {
      name: 'turn',
      steps: [{ id: 'a', kind: 'agent', role: 'analyst', prompt: 'hi' }],
    })
    expect(end.status).toBe('failed')
    expect(end.steps.a!.error).toMatchObject({ code: 'INVALID_INPUT' })
    expect(end.steps.a!.error!.message).toMatch(/^model turn 1 cannot be recorded: model: /)
  })
})

describe('engine: a signal the log could not hold is refused, and the run goes on', () => {
  it('an event whose payload nests too deep is refused naming the limit; the run still takes a good one', async () => {
    const engine = await engineWith({})
    const { runId } = await engine.start({
      definition: workflow({ name: 'signal', steps: [{ id: 'w', kind: 'wait', event: { name: 'go' } }] }),
    })
    const ops = { kind: 'user', id: 'ops' } as const
    await expect(engine.signal(T, runId, { kind: 'event', name: 'go', payload: nest(70) }, ops)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: 'the payload of event "go" nests lists and objects more than 64 levels deep, the most an event may hold',
    })
    await engine.signal(T, runId, { kind: 'event', name: 'go', payload: { ok: true } }, ops)
    const end = await engine.wait(T, runId)
    expect(end.status).toBe('completed')
    expect(end.events).toHaveLength(1)
  })
})

describe('engine: an error retrying cannot cure is not retried', () => {
  it('a commit the log refuses for good fails the run, naming why, after one try', async () => {
    let refused = 0
    const refusing = (log: EventLog): EventLog =>
      new Proxy(log, {
        get(target, key, receiver) {
          if (key === 'append') {
            return (r: AppendRequest) => {
              if (r.events.some((e) => e.type === 'step.completed' && (e.data as { stepId: string }).stepId === 'b')) {
                refused++
                return Promise.reject(new ShiiooError('PAYLOAD_TOO_LARGE', 'event evt_x is over 1048576 bytes'))
              }
              return target.append(r)
            }
          }
          return Reflect.get(target, key, receiver) as unknown
        },
      })
    const engine = await engineWith({}, refusing)
    const { runId, end } = await runToEnd(engine, {
      name: 'refused',
      steps: [
        { id: 'a', kind: 'tool', tool: 'core.echo', input: { x: 1 } },
        { id: 'b', kind: 'transform', needs: ['a'], output: 2 },
      ],
    })
    expect(end.status).toBe('failed')
    expect(end.error).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
      message: "the event log refused the run's next decisions: event evt_x is over 1048576 bytes",
      retryable: false,
    })
    expect(refused).toBe(1)
    expect((await engine.state(T, runId)).status).toBe('failed')
  })

  it('a run whose log cannot be read any more stops its driver, and waiting for it reports why', async () => {
    let damaged = false
    const breaking = (log: EventLog): EventLog =>
      new Proxy(log, {
        get(target, key, receiver) {
          if (key === 'append') {
            return (r: AppendRequest) => {
              if (r.events.some((e) => e.type === 'step.completed')) {
                damaged = true
                return Promise.reject(new ShiiooError('DATA_CORRUPTED', 'damaged record at byte 99'))
              }
              return target.append(r)
            }
          }
          if (key === 'read') {
            return (r: Parameters<EventLog['read']>[0]) =>
              damaged ? Promise.reject(new ShiiooError('DATA_CORRUPTED', 'damaged record at byte 99')) : target.read(r)
          }
          return Reflect.get(target, key, receiver) as unknown
        },
      })
    const engine = await engineWith({}, breaking)
    const { runId } = await engine.start({
      definition: workflow({ name: 'damaged', steps: [{ id: 'a', kind: 'tool', tool: 'core.echo', input: { x: 1 } }] }),
    })
    await expect(engine.wait(T, runId)).rejects.toMatchObject({
      code: 'DATA_CORRUPTED',
      message: 'damaged record at byte 99',
    })
    expect(engine.drives(T, runId)).toBe(false)
  })
})
