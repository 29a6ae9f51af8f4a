import type { Json, RunId, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, isShiiooError } from '@shiioo/core'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { Engine, WorkflowSpec } from '../../src/index.js'
import { toolInvoker, validateWorkflow } from '../../src/index.js'
import type { Harness } from './harness.js'
import { openHarness } from './harness.js'

/**
 * Generated workflows near every limit the engine, the log and the event schemas impose (fan-out
 * over commits, nesting of literal and rendered values and inputs, value sizes, prompt lengths,
 * counts of steps, needs and chain depth, expression length, timer range). Each run is refused
 * before it starts, naming the limit, or ends (completed, or failed naming the limit), exactly as
 * its distance to the limit says; none loops. Every run that ends replays with no difference.
 */

const T: TenantId = DEFAULT_TENANT
/** A run that has not ended by then is looping: a generous safety bound, not a timing assertion. */
const END_WITHIN_MS = 30_000
const MAX_VALUE_BYTES = 4096
// more cases to chase a failure: LIMITS_RUNS=300
const RUNS = Number(process.env.LIMITS_RUNS ?? 60)

type Expect = { refused: RegExp } | { fails: RegExp } | { completes: true }

interface Case {
  what: string
  spec: WorkflowSpec
  input?: Record<string, unknown>
  expect: Expect
  /** The engine's limit on a recorded value, when the case is about it. */
  maxValueBytes?: number
}

function nest(levels: number, leaf: Json = 1): Json {
  let v = leaf
  for (let i = 0; i < levels; i++) v = [v]
  return v
}

const wrap = (expr: string, times: number) => '['.repeat(times) + expr + ']'.repeat(times)

const agentFirst = (on: boolean): WorkflowSpec['steps'] =>
  on ? [{ id: 'first', kind: 'agent', role: 'analyst', prompt: 'hi' }] : []
const after = (on: boolean) => (on ? { needs: ['first'] } : {})

const DEPTH = /nests lists and objects more than (63|64) levels deep|yields a value nested deeper than 64 levels/

const fanOut = fc
  .record({
    n: fc.constantFrom(0, 1, 15, 16, 999, 1000, 1001, 2600),
    body: fc.constantFrom('transform', 'tool', 'wait'),
    agent: fc.boolean(),
  })
  .map(({ n, body, agent }): Case => {
    const step =
      body === 'transform'
        ? { kind: 'transform' as const, output: '${{ item }}' }
        : body === 'tool'
          ? { kind: 'tool' as const, tool: 'core.echo', input: { i: '${{ item }}' } }
          : { kind: 'wait' as const, duration: 0 }
    return {
      what: `a foreach of ${n} ${body} items${agent ? ' after an agent step' : ''}`,
      spec: {
        name: 'fan',
        inputs: { n: { type: 'array', required: true } },
        steps: [...agentFirst(agent), { id: 'many', kind: 'foreach', ...after(agent), items: 'inputs.n', step }],
        output: '${{ size(steps.many.output) }}',
      },
      input: { n: Array.from({ length: n }, (_, i) => i) },
      expect: { completes: true },
    }
  })

const literalDepth = fc
  .record({
    depth: fc.integer({ min: 62, max: 66 }),
    where: fc.constantFrom('output', 'input', 'run', 'item', 'default'),
  })
  .map(({ depth, where }): Case => {
    const value = nest(depth)
    const limit = where === 'item' || where === 'default' ? 63 : 64
    const steps: WorkflowSpec['steps'] =
      where === 'output'
        ? [{ id: 's', kind: 'transform', output: value }]
        : where === 'input'
          ? [{ id: 's', kind: 'tool', tool: 'core.echo', input: { v: value } }]
          : where === 'item'
            ? [{ id: 's', kind: 'foreach', items: '[1, 2]', step: { kind: 'transform', output: value } }]
            : [{ id: 's', kind: 'transform', output: 1 }]
    // a tool input is an object holding the value: one level more
    const levels = where === 'input' ? depth + 1 : depth
    return {
      what: `a literal nested ${depth} levels in ${where}`,
      spec: {
        name: 'literal',
        ...(where === 'default' ? { inputs: { v: { type: 'array', default: value } } } : {}),
        steps,
        ...(where === 'run' ? { output: value } : {}),
      },
      expect: levels > limit ? { refused: DEPTH } : { completes: true },
    }
  })

const renderedDepth = fc
  .record({ input: fc.integer({ min: 61, max: 64 }), wrapped: fc.integer({ min: 0, max: 3 }), item: fc.boolean() })
  .map(({ input, wrapped, item }): Case => {
    const output = `\${{ ${wrap('inputs.v', wrapped)} }}`
    const steps: WorkflowSpec['steps'] = item
      ? [{ id: 's', kind: 'foreach', items: '[1]', step: { kind: 'transform', output } }]
      : [{ id: 's', kind: 'transform', output }]
    const depth = input + wrapped
    return {
      what: `an input nested ${input} levels, rendered ${wrapped} levels deeper${item ? ' by a foreach item' : ''}`,
      spec: { name: 'rendered', inputs: { v: { type: 'array', required: true } }, steps },
      input: { v: nest(input) },
      expect: input > 63 ? { refused: DEPTH } : depth > (item ? 63 : 64) ? { fails: DEPTH } : { completes: true },
    }
  })

const valueSize = fc.integer({ min: MAX_VALUE_BYTES - 4, max: MAX_VALUE_BYTES }).map((chars): Case => ({
  what: `a tool output of ${chars + 2} bytes of JSON`,
  spec: {
    name: 'size',
    inputs: { chars: { type: 'integer', required: true } },
    steps: [{ id: 's', kind: 'tool', tool: 'test.text', input: { chars: '${{ inputs.chars }}' } }],
  },
  input: { chars },
  maxValueBytes: MAX_VALUE_BYTES,
  expect:
    chars + 2 > MAX_VALUE_BYTES ? { fails: /over the 4096-byte limit for a recorded value/ } : { completes: true },
}))

const promptLength = fc.integer({ min: 19_998, max: 20_002 }).map((length): Case => ({
  what: `an approval asking ${length} characters`,
  spec: {
    name: 'prompt',
    inputs: { q: { type: 'string', required: true } },
    steps: [{ id: 's', kind: 'approval', prompt: '${{ inputs.q }}' }],
  },
  input: { q: 'q'.repeat(length) },
  expect: length > 20_000 ? { fails: /more than the 20000 an approval may ask/ } : { completes: true },
}))

const counts = fc
  .record({ what: fc.constantFrom('steps', 'needs', 'chain'), delta: fc.integer({ min: -1, max: 1 }) })
  .map(({ what, delta }): Case => {
    const limit = what === 'steps' ? 500 : what === 'needs' ? 50 : 100
    const n = limit + delta
    const ids = Array.from({ length: what === 'needs' ? n + 1 : n }, (_, i) => `s${i}`)
    const steps: WorkflowSpec['steps'] = ids.map((id, i) => ({
      id,
      kind: 'transform',
      output: i,
      ...(what === 'chain' && i > 0 ? { needs: [ids[i - 1]!] } : {}),
      ...(what === 'needs' && i === n ? { needs: ids.slice(0, n) } : {}),
    }))
    return {
      what: `${n} ${what}`,
      spec: { name: 'counts', steps },
      expect: delta > 0 ? { refused: /over the limit max(Steps|NeedsPerStep|Depth)/ } : { completes: true },
    }
  })

const expressionLength = fc.integer({ min: 4094, max: 4098 }).map((length): Case => {
  const expr = `size('${'a'.repeat(length - 10)}') > 0`
  return {
    what: `an expression of ${expr.length} characters`,
    spec: { name: 'expression', steps: [{ id: 's', kind: 'transform', output: `\${{ ${expr} }}` }] },
    expect: expr.length > 4096 ? { refused: /over the limit maxExpressionLength/ } : { completes: true },
  }
})

const timerRange = fc.constantFrom('1999-12-31T23:00:00-01:00', '9999-12-31T23:00:00-01:00').map((until): Case => ({
  what: `a wait until ${until}`,
  spec: { name: 'timer', steps: [{ id: 's', kind: 'wait', until: `'${until}'` }] },
  expect: until.startsWith('9999') ? { fails: /outside the years 0000-9999/ } : { completes: true },
}))

const cases = fc.record({
  c: fc.oneof(fanOut, literalDepth, renderedDepth, valueSize, promptLength, counts, expressionLength, timerRange),
  maxEventsPerCommit: fc.constantFrom(16, 100, 1000),
})

let h: Harness | undefined
afterAll(async () => h?.close())

/** The run's end, approving approvals as they wait; null when it has not ended within the bound. */
async function endOf(engine: Engine, runId: RunId) {
  const done = engine.wait(T, runId)
  const ended: { state: Awaited<typeof done> | null } = { state: null }
  void done.then((s) => (ended.state = s)).catch(() => undefined)
  const deadline = Date.now() + END_WITHIN_MS
  while (ended.state === null && Date.now() < deadline) {
    const state = await engine.state(T, runId)
    for (const [stepId, s] of Object.entries(state.steps)) {
      if (s.status === 'waiting' && s.wait?.for === 'approval' && !state.decisions.some((d) => d.stepId === stepId)) {
        await engine.signal(T, runId, { kind: 'decision', stepId, decision: 'approve' }, { kind: 'user', id: 'ann' })
      }
    }
    await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 20))])
  }
  return ended.state
}

describe('runs near every limit', () => {
  it('are refused before they start, naming the limit, or end as their distance to the limit says', async () => {
    const seen = { refused: 0, fails: 0, completes: 0 }
    await fc.assert(
      fc.asyncProperty(cases, async ({ c, maxEventsPerCommit }) => {
        await h?.close()
        h = await openHarness({
          maxEventsPerCommit,
          ...(c.maxValueBytes === undefined ? {} : { maxValueBytes: c.maxValueBytes }),
          tools: toolInvoker({
            'core.echo': (r) => r.input,
            'test.text': (r) => 'x'.repeat((r.input as { chars: number }).chars),
          }),
        })
        const validated = validateWorkflow(c.spec)
        let runId: RunId
        try {
          if (!validated.ok) throw new Error(validated.errors.map((e) => e.message).join('\n'))
          runId = (await h.engine.start({ definition: validated.workflow, input: c.input ?? {} })).runId
        } catch (error) {
          const message = (error as Error).message
          expect({ what: c.what, outcome: 'refused', message }).toEqual({
            what: c.what,
            outcome: 'refused' in c.expect ? 'refused' : 'started',
            message: expect.stringMatching('refused' in c.expect ? c.expect.refused : /^$/),
          })
          if (validated.ok) expect(isShiiooError(error) && error.code).toBe('INVALID_INPUT')
          const streams: string[] = []
          for await (const s of h.log.listStreams({ kind: 'run' })) streams.push(s.stream)
          expect(streams, 'a refused start writes no run').toEqual([])
          seen.refused++
          return
        }
        const end = await endOf(h.engine, runId)
        expect(end, `${c.what}: the run did not end within ${END_WITHIN_MS} ms`).not.toBeNull()
        const outcome = 'fails' in c.expect ? 'failed' : 'refused' in c.expect ? 'refused' : 'completed'
        expect({ what: c.what, status: end!.status }).toEqual({ what: c.what, status: outcome })
        if ('fails' in c.expect) expect(end!.error?.message).toMatch(c.expect.fails)
        if (outcome === 'failed') seen.fails++
        else seen.completes++
        expect(await h.engine.replay(T, runId)).toMatchObject({ ok: true, mismatches: [] })
      }),
      { numRuns: RUNS },
    )
    // the generator reaches every outcome
    expect(Object.values(seen).every((n) => n > 0)).toBe(true)
  }, 300_000)
})
