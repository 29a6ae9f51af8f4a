import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { EventType } from '../src/index.js'
import { eventSchemas } from '../src/events/catalog.js'
import { fastChecks } from '../src/events/fast-checks.js'

// Values near the edges of what each field allows, valid and not, so that the hand-written checks
// are tried where they could go wrong.
const valid = {
  stepId: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/),
  runRef: fc.stringMatching(/^run_[0-7][0-9A-HJKMNP-TV-Z]{25}$/),
  blobKey: fc.stringMatching(/^[0-9a-f]{64}$/),
  item: fc.integer({ min: 0, max: 1_000_000 }),
  attempt: fc.integer({ min: 1, max: 2 ** 31 }),
  key: (max: number) => fc.string({ minLength: 1, maxLength: max }),
}
const payload = fc.oneof(
  fc.record({ inline: fc.jsonValue() }),
  fc.record({ blob: valid.blobKey, size: fc.nat(), contentType: fc.string({ maxLength: 100 }) }),
)
const any = fc.oneof(
  fc.anything(),
  fc.constantFrom(0, -1, 1.5, NaN, Infinity, 2 ** 53, '', 'x'.repeat(301), null, undefined, [], {}),
)
const either = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: any })
const nearPayload = either(
  fc.oneof(
    payload,
    fc.record({ inline: fc.anything() }),
    fc.record({ blob: fc.string(), size: any, contentType: any }),
    fc.record({ inline: fc.jsonValue(), blob: valid.blobKey }),
  ),
)
/** Records whose keys may be missing, with now and then a key the schema does not know. */
const shaped = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc
    .tuple(fc.record(fields, { requiredKeys: [] }), fc.option(fc.dictionary(fc.string(), any, { maxKeys: 2 })))
    .map(([r, extra]) => ({ ...extra, ...r }))

const near: Partial<Record<EventType, fc.Arbitrary<unknown>>> = {
  'run.started': shaped({
    workflow: either(shaped({ name: either(valid.key(200)), hash: either(valid.blobKey) })),
    input: nearPayload,
    idempotencyKey: either(valid.key(200)),
    parent: either(shaped({ runId: valid.runRef, stepId: valid.stepId })),
  }),
  'step.started': shaped({
    stepId: either(valid.stepId),
    item: either(valid.item),
    attempt: either(valid.attempt),
    idempotencyKey: either(valid.key(300)),
    input: nearPayload,
  }),
  'step.completed': shaped({
    stepId: either(valid.stepId),
    item: either(valid.item),
    attempt: either(valid.attempt),
    output: nearPayload,
    reusedFrom: either(valid.runRef),
  }),
  'run.completed': shaped({ output: nearPayload }),
}

const wellFormed: Partial<Record<EventType, fc.Arbitrary<unknown>>> = {
  'run.started': fc.record(
    {
      workflow: fc.record({ name: valid.key(200), hash: valid.blobKey }),
      input: payload,
      idempotencyKey: valid.key(200),
    },
    { requiredKeys: ['workflow'] },
  ),
  'step.started': fc.record(
    { stepId: valid.stepId, item: valid.item, attempt: valid.attempt, idempotencyKey: valid.key(300), input: payload },
    { requiredKeys: ['stepId', 'attempt', 'idempotencyKey'] },
  ),
  'step.completed': fc.record(
    { stepId: valid.stepId, item: valid.item, attempt: valid.attempt, output: payload, reusedFrom: valid.runRef },
    { requiredKeys: ['stepId', 'attempt'] },
  ),
  'run.completed': fc.record({ output: payload }, { requiredKeys: [] }),
}

const types = Object.keys(fastChecks) as EventType[]

describe('the hand-written checks of the hot event types', () => {
  it('cover the types the engine writes for every step', () => {
    expect(types.sort()).toEqual(['run.completed', 'run.started', 'step.completed', 'step.started'])
  })

  it.each(types)('%s: accept nothing its schema refuses, and what they accept is the schema result itself', (type) => {
    const check = fastChecks[type]!
    const schema = eventSchemas[type].data
    fc.assert(
      fc.property(near[type]!, (data) => {
        if (!check(data)) return // the schema decides
        const parsed = schema.safeParse(data)
        expect(parsed.success).toBe(true)
        expect(JSON.stringify(parsed.data)).toBe(JSON.stringify(data))
      }),
      { numRuns: 3000 },
    )
  })

  it.each(types)('%s: accept the well-formed data the engine writes (so the fast path is taken)', (type) => {
    const check = fastChecks[type]!
    fc.assert(
      fc.property(wellFormed[type]!, (data) => {
        expect(eventSchemas[type].data.safeParse(data).success).toBe(true)
        expect(check(data)).toBe(true)
      }),
      { numRuns: 1000 },
    )
  })
})
