import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ErrorJson, RestStack } from './rest-helpers.js'
import { TOKEN, exampleYaml, openRestStack } from './rest-helpers.js'

/**
 * Malformed and hostile requests across every documented operation, in process: ids and names
 * with path tricks, wrong types in queries and bodies, bad JSON, oversized bodies, missing and
 * unknown tokens. None may be a 5xx or hang, every refusal has the error shape, and the runs the
 * tenant had are as they were.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000)
const MAX_BODY = 4096

let stack: RestStack
let runId: string
let operations: Array<{ method: string; path: string }>

beforeAll(async () => {
  stack = await openRestStack({ app: { http: { maxBodyBytes: MAX_BODY } } })
  const started = await stack.app.request('/api/runs', {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ workflow: { text: await exampleYaml('approval-gate') }, input: { version: '1' } }),
  })
  runId = ((await started.json()) as { runId: string }).runId
  const doc = (await (await stack.app.request('/api/openapi.json')).json()) as {
    paths: Record<string, Record<string, unknown>>
  }
  operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => ({ method: method.toUpperCase(), path })),
  )
})
afterAll(async () => {
  await stack.close()
})

const hostile = fc.oneof(
  fc.constantFrom(
    '..',
    '%2e%2e',
    '..%2F..%2Fetc%2Fpasswd',
    '%2F',
    '%00',
    '%25',
    'run_..%2F..',
    'run_01JH0000000000000000000000',
    'RUN_01JH0000000000000000000000',
    'a'.repeat(64),
    'A'.repeat(300),
    '%E2%80%AE',
    '%C0%AE%C0%AE',
    '%F0%9F%92%A9',
    '-1',
    '1e309',
    'null',
    '[]',
    '{}',
  ),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
)

const body = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{"workflow": ', '{"decision":"approve"', '\u0000', '[', 'null', '1', '"x"'),
  fc
    .record({
      workflow: fc.oneof(fc.record({ text: fc.string({ maxLength: 100 }) }), fc.anything()),
      input: fc.anything(),
      decision: fc.constantFrom('approve', 'reject', 'maybe', 1),
      fromStep: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()),
      name: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(null)),
      reason: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()),
    })
    .map((v) => JSON.stringify(v)),
  fc.constant('x'.repeat(MAX_BODY * 2)),
)

const request = fc.record({
  op: fc.nat(),
  params: fc.array(hostile, { minLength: 3, maxLength: 3 }),
  useRealRun: fc.boolean(),
  query: fc.dictionary(
    fc.constantFrom('limit', 'cursor', 'status', 'after', 'seq', 'by', 'from', 'before', 'hash', 'since', 'action'),
    hostile,
    { maxKeys: 3 },
  ),
  body,
  contentType: fc.constantFrom(
    'application/json',
    'application/yaml',
    'text/plain',
    'application/json; charset=utf-8',
    '',
  ),
  token: fc.constantFrom(TOKEN, TOKEN, TOKEN, 'other', '', null),
})

describe('hostile requests', () => {
  it(`answers ${RUNS} malformed requests with a 4xx in the error shape (or a success), never a 5xx`, async () => {
    const before = await runsOf()
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const op = operations[r.op % operations.length]!
        let i = 0
        const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) =>
          name === 'runId' && r.useRealRun ? runId : r.params[i++ % 3]!,
        )
        const query = new URLSearchParams(Object.entries(r.query).map(([k, v]): [string, string] => [k, v]))
        const headers: Record<string, string> = {}
        if (r.token !== null) headers.Authorization = `Bearer ${r.token}`
        if (r.contentType !== '') headers['Content-Type'] = r.contentType
        const withBody = op.method === 'POST' && r.body !== undefined
        const res = await stack.app.request(`${path}${query.size ? `?${query.toString()}` : ''}`, {
          method: op.method,
          headers,
          ...(withBody ? { body: r.body } : {}),
        })
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        expect(res.status, `${op.method} ${path}`).toBeLessThan(500)
        if (res.status >= 400) {
          const error = ((await res.json()) as ErrorJson).error
          expect(error.code).toMatch(/^[A-Z_]+$/)
          expect(error.requestId).toBe(res.headers.get('x-request-id'))
        } else {
          await res.arrayBuffer()
        }
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 14) },
    )
    // the cases reach past the token check and the schemas, not just the first refusal
    for (const status of [200, 400, 401, 404, 413]) expect(statuses.get(status) ?? 0, String(status)).toBeGreaterThan(0)
    // a fuzzed decision, signal, pause or cancel may land on the one real run: the others are as they were
    const after = await runsOf()
    expect(after.filter((r) => !r.startsWith(runId))).toEqual(before.filter((r) => !r.startsWith(runId)))
  })
})

async function runsOf(): Promise<string[]> {
  const res = await stack.app.request('/api/runs?limit=500', { headers: { Authorization: `Bearer ${TOKEN}` } })
  const page = (await res.json()) as { items: Array<{ runId: string; lastSeq: number }> }
  return page.items.map((r) => `${r.runId}@${r.lastSeq}`).sort()
}
