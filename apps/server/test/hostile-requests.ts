import fc from 'fast-check'

/**
 * Hostile HTTP requests drawn from the server's own OpenAPI document: every documented operation,
 * with its path parameters, query and body replaced by malformed, oversized or tricky values, and
 * with missing, garbled or foreign credentials. The fuzz test sends them to the real server
 * process and checks what no request may do (a 5xx, a hang, a change of state).
 */

export interface OpenApiDoc {
  paths: Record<string, Record<string, unknown>>
}

interface OperationDoc {
  operationId?: string
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: { type?: string } }>
  requestBody?: unknown
}

export interface Operation {
  method: string
  /** The documented path, with `{name}` placeholders. */
  path: string
  params: string[]
  query: string[]
  hasBody: boolean
}

export interface HostileRequest {
  method: string
  path: string
  headers: Record<string, string>
  body?: string | Uint8Array<ArrayBuffer>
  /** What was done to it, for the failure message. */
  label: string
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete'])

/** The documented operations of the API (`/api/...` paths only). */
export function operationsOf(doc: OpenApiDoc): Operation[] {
  const out: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!METHODS.has(method)) continue
      const op = raw as OperationDoc
      const params = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name)
      for (const m of path.matchAll(/\{([^}]+)\}/g)) if (!params.includes(m[1]!)) params.push(m[1]!)
      const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name)
      out.push({ method: method.toUpperCase(), path, params, query, hasBody: op.requestBody !== undefined })
    }
  }
  return out
}

/** Values that must never get past validation as ids, names or numbers. */
const BAD_SEGMENTS = [
  '..',
  '%2e%2e',
  '..%2f..%2fetc%2fpasswd',
  '%2F',
  '%00',
  'run_' + '0'.repeat(26),
  'RUN_01ARZ3NDEKTSV4RRFFQ69G5FAV',
  'a'.repeat(5000),
  '-1',
  '1e309',
  'NaN',
  '%E2%80%AE',
  '%F0%9F%92%A9',
  '%ZZ',
  'null',
  '__proto__',
  'constructor',
  "'%20OR%201=1--",
  '<script>',
]

const BAD_QUERY_VALUES = ['', '-1', '0', '99999999999999999999', 'abc', '%00', 'a'.repeat(3000), '[]', '{}', 'true']

/** Bodies that are not what any route accepts: broken JSON, wrong types, deep nesting, prototype keys. */
function badBodies(): fc.Arbitrary<{ body: string | Uint8Array<ArrayBuffer>; type: string; label: string }> {
  const json = (v: unknown, label: string) => ({ body: JSON.stringify(v), type: 'application/json', label })
  return fc.oneof(
    fc.constantFrom(
      { body: '{', type: 'application/json', label: 'truncated JSON' },
      { body: '{"a":1,}', type: 'application/json', label: 'trailing comma' },
      { body: '', type: 'application/json', label: 'empty JSON body' },
      { body: 'null', type: 'application/json', label: 'null body' },
      { body: '[]', type: 'application/json', label: 'array body' },
      { body: '"text"', type: 'application/json', label: 'string body' },
      { body: '{"a":1}', type: 'text/plain', label: 'wrong content type' },
      { body: '\u0000\u0001\u0002', type: 'application/json', label: 'control bytes' },
      json({ __proto__: { admin: true }, constructor: { prototype: { x: 1 } } }, 'prototype keys'),
      json(JSON.parse('{"__proto__":{"polluted":true}}'), 'own __proto__ key'),
    ),
    fc.constant(null).map(() => ({
      body: '['.repeat(20_000) + ']'.repeat(20_000),
      type: 'application/json',
      label: 'nesting 20,000 deep',
    })),
    fc.integer({ min: 2, max: 12 }).map((mb) => ({
      body: new Uint8Array(mb * 1024 * 1024).fill(0x61),
      type: 'application/json',
      label: `${mb} MiB body`,
    })),
    // never a valid request: `reason` (the one field of cancel and pause, whose bodies are all
    // optional) is never a string, and every other route's body is strict, so it is an unknown key
    // there; POST /api/workflows takes `text` (never drawn) or a `definition`, never a valid one here
    fc
      .record({
        reason: fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({})),
        rest: fc.dictionary(
          fc.constantFrom(
            'source',
            'input',
            'definition',
            'decision',
            'name',
            'payload',
            'fromStep',
            'comment',
            'steps',
          ),
          fc.oneof(
            fc.integer(),
            fc.string({ maxLength: 50 }),
            fc.constant(null),
            fc.array(fc.integer(), { maxLength: 3 }),
            fc.constant({ yaml: 'a: [' }),
            fc.constant({
              definition: { name: 'x', steps: [{ id: 'a', kind: 'tool', tool: 'core.echo', needs: ['a'] }] },
            }),
          ),
        ),
      })
      .map(({ reason, rest }) => json({ ...rest, reason }, 'wrong shapes')),
  )
}

export interface Credentials {
  /** Tokens that must be refused outright (none, garbage, revoked, expired). */
  refused: Record<string, string | null>
  /** A working token of another tenant: its requests must not see or change this tenant's data. */
  foreign: string
  /** A working token of a principal whose roles do not allow changes. */
  readOnly: string
  /** A working admin token. */
  admin: string
}

/** Substitutes each `{param}` of `path` with the given values (already URL-safe). */
function fill(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? 'x')
}

/**
 * Hostile requests over `operations`. `ids` holds real values for path parameters (a run id of
 * this tenant, ...), used where only the credentials or the body are hostile.
 */
export function hostileRequests(
  operations: Operation[],
  ids: Record<string, string>,
  credentials: Credentials,
): fc.Arbitrary<HostileRequest> {
  const op = fc.constantFrom(...operations)
  const bearer = (token: string | null): Record<string, string> =>
    token === null ? {} : { authorization: `Bearer ${token}` }
  const refusedCredential = fc.constantFrom(...Object.entries(credentials.refused))
  const tokenOf = fc.constantFrom(
    ['admin', credentials.admin] as const,
    ['foreign tenant', credentials.foreign] as const,
    ['read-only', credentials.readOnly] as const,
  )

  const badParams = fc.tuple(op, fc.constantFrom(...BAD_SEGMENTS), tokenOf).map(([o, seg, [who, token]]) => {
    const values = Object.fromEntries(o.params.map((p) => [p, seg]))
    return {
      method: o.method,
      path: fill(o.path, values),
      headers: bearer(token),
      label: `${o.method} ${o.path} with every path parameter "${seg.slice(0, 40)}" as ${who}`,
    }
  })
  const badQuery = fc
    .tuple(op, fc.constantFrom(...BAD_QUERY_VALUES), tokenOf)
    .filter(([o]) => o.query.length > 0)
    .map(([o, value, [who, token]]) => ({
      method: o.method,
      path: `${fill(o.path, ids)}?${o.query.map((q) => `${encodeURIComponent(q)}=${encodeURIComponent(value)}`).join('&')}`,
      headers: bearer(token),
      label: `${o.method} ${o.path} with every query value "${value.slice(0, 40)}" as ${who}`,
    }))
  const badBody = fc
    .tuple(op, badBodies(), tokenOf)
    .filter(([o]) => o.hasBody)
    .map(([o, b, [who, token]]) => ({
      method: o.method,
      path: fill(o.path, ids),
      headers: { ...bearer(token), 'content-type': b.type },
      body: b.body,
      label: `${o.method} ${o.path} with ${b.label} as ${who}`,
    }))
  const badCredentials = fc.tuple(op, refusedCredential).map(([o, [what, token]]) => ({
    method: o.method,
    path: fill(o.path, ids),
    headers: bearer(token),
    ...(o.hasBody ? { body: '{}' } : {}),
    label: `${o.method} ${o.path} with ${what}`,
  }))
  const foreign = op.map((o) => ({
    method: o.method,
    path: fill(o.path, ids),
    headers: { ...bearer(credentials.foreign), 'content-type': 'application/json' },
    ...(o.hasBody ? { body: '{}' } : {}),
    label: `${o.method} ${o.path} on this tenant's ids with another tenant's token`,
  }))
  const pathTricks = fc
    .tuple(
      fc.constantFrom(
        '/api/../api/runs',
        '/api/runs/..%2f..%2faudit',
        '/api//runs',
        '/api/runs/%2e%2e/%2e%2e/etc/passwd',
        '/api/%2e%2e/%2e%2e/',
        '/api/runs?limit=1&limit=2',
        '/api/runs/' + 'x'.repeat(20_000),
      ),
      tokenOf,
    )
    .map(([path, [who, token]]) => ({
      method: 'GET',
      path,
      headers: bearer(token),
      label: `path trick ${path.slice(0, 60)} as ${who}`,
    }))
  return fc.oneof(badParams, badQuery, badBody, badCredentials, foreign, pathTricks)
}
