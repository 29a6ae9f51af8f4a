import type { TenantId } from '@shiioo/core'
import { systemCaller } from '@shiioo/orchestrator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ErrorJson, RestStack } from './rest-helpers.js'
import { TAGS_TESTED_ELSEWHERE, apiClient, documentedOperations, openRestStack } from './rest-helpers.js'

// Principals and tokens over REST, authenticated by the real identity service: each tenant's
// admin token is given to bootstrap, as SHIIOO_ADMIN_TOKEN would be.
const ADMIN = 'default-admin-token-0123456789abcdefghij'
const ACME_ADMIN = 'acme-admin-token-0123456789abcdefghijklm'
const TOKEN_TEXT = /^shiioo_[A-Za-z0-9_-]{43}$/
const UNKNOWN_PRINCIPAL = 'prn_01JH0000000000000000000000'
const UNKNOWN_TOKEN = 'tok_01JH0000000000000000000000'

interface Principal {
  id: string
  name: string
  roles: string[]
  status: string
}
interface Token {
  id: string
  principalId: string
  prefix: string
  status: string
  expiresAt: string | null
  token?: string
}

let stack: RestStack
let api: ReturnType<typeof apiClient>

beforeAll(async () => {
  stack = await openRestStack({ app: { authenticate: (token) => stack.orchestrator.identity.authenticate(token) } })
  api = apiClient(stack.app)
  await stack.orchestrator.identity.bootstrap(systemCaller('test'), { token: ADMIN })
  await stack.orchestrator.identity.bootstrap(systemCaller('test', 'acme' as TenantId), { token: ACME_ADMIN })
})
afterAll(async () => {
  await stack.close()
})

async function ok<T>(res: Response, status = 200): Promise<T> {
  expect(res.status, await res.clone().text()).toBe(status)
  return (await res.json()) as T
}

async function errorOf(res: Response, status: number, code: string): Promise<ErrorJson['error']> {
  expect(res.status).toBe(status)
  const body = (await res.json()) as ErrorJson
  expect(body.error.code).toBe(code)
  expect(body.error.requestId).toBe(res.headers.get('x-request-id'))
  return body.error
}

const asAdmin = { token: ADMIN }

/** A principal with `roles` and a token for it, made over the API by the admin. */
async function principalWithToken(name: string, roles: string[]): Promise<{ principal: Principal; token: Token }> {
  const principal = await ok<Principal>(
    await api.call('post', '/api/principals', { ...asAdmin, body: { kind: 'user', name, roles } }),
    201,
  )
  const token = await ok<Token>(
    await api.call('post', '/api/tokens', { ...asAdmin, body: { principal: name, name: 'laptop' } }),
    201,
  )
  return { principal, token }
}

describe('GET /api/me', () => {
  it('answers the principal the token stands for, its tenant and roles', async () => {
    const me = await ok<{ tenant: string; actor: unknown; roles: string[]; principal: Principal }>(
      await api.call('get', '/api/me', asAdmin),
    )
    expect(me).toMatchObject({ tenant: 'default', roles: ['admin'], principal: { name: 'admin', status: 'active' } })
    expect(me.actor).toEqual({ kind: 'user', id: me.principal.id })
    const acme = await ok<{ tenant: string }>(await api.call('get', '/api/me', { token: ACME_ADMIN }))
    expect(acme.tenant).toBe('acme')
    await errorOf(await api.call('get', '/api/me', { token: null }), 401, 'UNAUTHENTICATED')
  })
})

describe('principals', () => {
  it('creates (201), lists, reads by id or name, sets roles and disables', async () => {
    const bob = await ok<Principal>(
      await api.call('post', '/api/principals', {
        ...asAdmin,
        body: { kind: 'agent', name: 'bob', roles: ['viewer'] },
      }),
      201,
    )
    expect(bob).toMatchObject({ tenant: 'default', kind: 'agent', name: 'bob', roles: ['viewer'], status: 'active' })
    expect(bob.id).toMatch(/^prn_/)
    const list = await ok<{ items: Principal[] }>(await api.call('get', '/api/principals', asAdmin))
    expect(list.items.map((p) => p.name)).toEqual(expect.arrayContaining(['admin', 'bob']))
    for (const ref of [bob.id, 'bob']) {
      expect(
        await ok(await api.call('get', '/api/principals/{principal}', { ...asAdmin, params: { principal: ref } })),
      ).toEqual(bob)
    }
    const updated = await ok<Principal>(
      await api.call('put', '/api/principals/{principal}/roles', {
        ...asAdmin,
        params: { principal: 'bob' },
        body: { roles: ['operator', 'approver'] },
      }),
    )
    expect(updated.roles).toEqual(['operator', 'approver'])
    const disabled = await ok<Principal>(
      await api.call('post', '/api/principals/{principal}/disable', {
        ...asAdmin,
        params: { principal: bob.id },
        body: { reason: 'moved teams' },
      }),
    )
    expect(disabled).toMatchObject({ id: bob.id, status: 'disabled' })
    // without a body, and again: it stays disabled
    const again = await api.call('post', '/api/principals/{principal}/disable', {
      ...asAdmin,
      params: { principal: 'bob' },
    })
    expect(await ok<Principal>(again)).toMatchObject({ status: 'disabled' })
    // a disabled principal gets no token
    await errorOf(
      await api.call('post', '/api/tokens', { ...asAdmin, body: { principal: 'bob', name: 'ci' } }),
      409,
      'CONFLICT',
    )
  })

  it('refuses a taken name (409), bad input naming the field (400) and unknown principals (404)', async () => {
    const body = { kind: 'user', name: 'dup', roles: [] }
    await ok(await api.call('post', '/api/principals', { ...asAdmin, body }), 201)
    await errorOf(await api.call('post', '/api/principals', { ...asAdmin, body }), 409, 'CONFLICT')
    for (const [bad, field] of [
      [{ ...body, kind: 'robot' }, 'kind'],
      [{ ...body, name: 'Not A Name' }, 'name'],
      [{ ...body, roles: ['root'] }, 'roles'],
      [{ ...body, extra: 1 }, ''],
    ] as const) {
      const error = await errorOf(
        await api.call('post', '/api/principals', { ...asAdmin, body: bad }),
        400,
        'INVALID_INPUT',
      )
      expect(JSON.stringify(error.details)).toContain(field)
    }
    await errorOf(
      await api.call('get', '/api/principals/{principal}', { ...asAdmin, params: { principal: 'Bad Name!' } }),
      400,
      'INVALID_INPUT',
    )
    for (const principal of [UNKNOWN_PRINCIPAL, 'nobody']) {
      await errorOf(
        await api.call('get', '/api/principals/{principal}', { ...asAdmin, params: { principal } }),
        404,
        'NOT_FOUND',
      )
    }
    await errorOf(
      await api.call('put', '/api/principals/{principal}/roles', {
        ...asAdmin,
        params: { principal: 'nobody' },
        body: { roles: ['viewer'] },
      }),
      404,
      'NOT_FOUND',
    )
  })
})

describe('tokens', () => {
  it('a token made over the API is shown once and authenticates the next request; revoked, it is refused (401)', async () => {
    const { principal, token } = await principalWithToken('carol', ['viewer'])
    expect(token).toMatchObject({ principalId: principal.id, name: 'laptop', status: 'active', expiresAt: null })
    expect(token.token).toMatch(TOKEN_TEXT)
    expect(token.prefix).toBe(token.token!.slice(0, 14))
    const me = await ok<{ principal: Principal; roles: string[] }>(
      await api.call('get', '/api/me', { token: token.token! }),
    )
    expect(me).toMatchObject({ principal: { id: principal.id, name: 'carol' }, roles: ['viewer'] })
    expect((await api.call('get', '/api/runs', { token: token.token! })).status).toBe(200)

    // listed by id and prefix, never the token
    const listed = await api.call('get', '/api/tokens', { ...asAdmin, query: { principal: 'carol' } })
    const text = await listed.clone().text()
    expect(text).not.toContain(token.token!)
    const { items } = await ok<{ items: Token[] }>(listed)
    expect(items).toEqual([{ ...token, token: undefined }])
    const all = await ok<{ items: Token[] }>(await api.call('get', '/api/tokens', asAdmin))
    expect(all.items.map((t) => t.id)).toContain(token.id)

    const revoked = await ok<Token>(
      await api.call('post', '/api/tokens/{tokenId}/revoke', { ...asAdmin, params: { tokenId: token.id } }),
    )
    expect(revoked).toMatchObject({ id: token.id, status: 'revoked' })
    const refused = await errorOf(await api.call('get', '/api/me', { token: token.token! }), 401, 'UNAUTHENTICATED')
    expect(refused.message).toContain('revoked')
    expect(refused.message).not.toContain(token.token!)
    // revoking again answers it again
    expect(
      await ok<Token>(
        await api.call('post', '/api/tokens/{tokenId}/revoke', { ...asAdmin, params: { tokenId: token.id } }),
      ),
    ).toMatchObject({ status: 'revoked' })
  })

  it('takes an expiry; refuses one in the past, a malformed id (400) and unknown tokens or principals (404)', async () => {
    const expiresAt = '2099-01-31T00:00:00Z'
    const made = await ok<Token>(
      await api.call('post', '/api/tokens', { ...asAdmin, body: { principal: 'admin', name: 'ci', expiresAt } }),
      201,
    )
    expect(made.expiresAt).toBe('2099-01-31T00:00:00.000Z')
    const past = await api.call('post', '/api/tokens', {
      ...asAdmin,
      body: { principal: 'admin', name: 'ci', expiresAt: '2001-01-01T00:00:00Z' },
    })
    expect((await errorOf(past, 400, 'INVALID_INPUT')).details).toMatchObject({ field: 'expiresAt' })
    await errorOf(
      await api.call('post', '/api/tokens', { ...asAdmin, body: { principal: 'nobody', name: 'ci' } }),
      404,
      'NOT_FOUND',
    )
    await errorOf(
      await api.call('post', '/api/tokens/{tokenId}/revoke', { ...asAdmin, params: { tokenId: 'tok_nope' } }),
      400,
      'INVALID_INPUT',
    )
    await errorOf(
      await api.call('post', '/api/tokens/{tokenId}/revoke', { ...asAdmin, params: { tokenId: UNKNOWN_TOKEN } }),
      404,
      'NOT_FOUND',
    )
    await errorOf(
      await api.call('get', '/api/tokens', { ...asAdmin, query: { principal: 'nobody' } }),
      404,
      'NOT_FOUND',
    )
  })

  it('a disabled principal’s token stops working at once', async () => {
    const { token } = await principalWithToken('dave', ['operator'])
    expect((await api.call('get', '/api/me', { token: token.token! })).status).toBe(200)
    await ok(
      await api.call('post', '/api/principals/{principal}/disable', { ...asAdmin, params: { principal: 'dave' } }),
    )
    await errorOf(await api.call('get', '/api/me', { token: token.token! }), 401, 'UNAUTHENTICATED')
  })
})

describe('refusals', () => {
  it('a viewer may ask who it is but not manage identity: 403, and each refusal is in the audit chain', async () => {
    const { principal, token } = await principalWithToken('erin', ['viewer'])
    const asErin = { token: token.token! }
    expect(await ok(await api.call('get', '/api/me', asErin))).toMatchObject({ principal: { name: 'erin' } })
    const refused = await errorOf(
      await api.call('post', '/api/tokens', { ...asErin, body: { principal: 'erin', name: 'more' } }),
      403,
      'FORBIDDEN',
    )
    expect(refused.message).toContain('token.create needs one of the roles admin')
    await errorOf(
      await api.call('post', '/api/principals', { ...asErin, body: { kind: 'user', name: 'x', roles: ['admin'] } }),
      403,
      'FORBIDDEN',
    )
    await errorOf(
      await api.call('put', '/api/principals/{principal}/roles', {
        ...asErin,
        params: { principal: 'erin' },
        body: { roles: ['admin'] },
      }),
      403,
      'FORBIDDEN',
    )
    await errorOf(await api.call('get', '/api/principals', asErin), 403, 'FORBIDDEN')
    await errorOf(await api.call('get', '/api/tokens', asErin), 403, 'FORBIDDEN')

    const audit = await ok<{ items: Array<{ action: string; actor: { id: string }; outcome: { status: string } }> }>(
      await api.call('get', '/api/audit', { ...asAdmin, query: { actor: principal.id } }),
    )
    expect(audit.items.map((e) => [e.action, e.outcome.status])).toEqual([
      ['token.list', 'denied'],
      ['principal.list', 'denied'],
      ['principal.set-roles', 'denied'],
      ['principal.create', 'denied'],
      ['token.create', 'denied'],
    ])
    // and erin still is a viewer with one token
    const tokens = await ok<{ items: Token[] }>(
      await api.call('get', '/api/tokens', { ...asAdmin, query: { principal: 'erin' } }),
    )
    expect(tokens.items).toHaveLength(1)
  })

  it("another tenant's principal and token ids are the same 404 as unknown ones, and nothing of theirs changes", async () => {
    const { principal, token } = await principalWithToken('frank', ['viewer'])
    const asAcme = { token: ACME_ADMIN }
    const same = async (call: (ref: string) => Promise<Response>, theirs: string, unknown: string) => {
      const a = await errorOf(await call(theirs), 404, 'NOT_FOUND')
      const b = await errorOf(await call(unknown), 404, 'NOT_FOUND')
      expect(a.message.replace(theirs, '<id>')).toBe(b.message.replace(unknown, '<id>'))
    }
    const byPrincipal: Array<(ref: string) => Promise<Response>> = [
      (p) => api.call('get', '/api/principals/{principal}', { ...asAcme, params: { principal: p } }),
      (p) =>
        api.call('put', '/api/principals/{principal}/roles', {
          ...asAcme,
          params: { principal: p },
          body: { roles: ['admin'] },
        }),
      (p) => api.call('post', '/api/principals/{principal}/disable', { ...asAcme, params: { principal: p } }),
      (p) => api.call('post', '/api/tokens', { ...asAcme, body: { principal: p, name: 'stolen' } }),
      (p) => api.call('get', '/api/tokens', { ...asAcme, query: { principal: p } }),
    ]
    for (const call of byPrincipal) {
      await same(call, principal.id, UNKNOWN_PRINCIPAL)
      await same(call, 'frank', 'nobody')
    }
    await same(
      (t) => api.call('post', '/api/tokens/{tokenId}/revoke', { ...asAcme, params: { tokenId: t } }),
      token.id,
      UNKNOWN_TOKEN,
    )
    const theirs = await ok<{ items: Principal[] }>(await api.call('get', '/api/principals', asAcme))
    expect(theirs.items.map((p) => p.name)).toEqual(['admin'])
    const theirTokens = await ok<{ items: Token[] }>(await api.call('get', '/api/tokens', asAcme))
    expect(theirTokens.items.map((t) => t.id)).not.toContain(token.id)
    // frank is untouched and his token still works
    expect(await ok(await api.call('get', '/api/me', { token: token.token! }))).toMatchObject({
      principal: { name: 'frank', roles: ['viewer'], status: 'active' },
    })
  })
})

describe('the OpenAPI document', () => {
  it('every identity operation is exercised above, and documents its error responses', async () => {
    expect(TAGS_TESTED_ELSEWHERE.identity).toBe('rest-identity.test.ts')
    const mine = (await documentedOperations(stack.app)).filter((o) => o.tags.includes('identity')).map((o) => o.op)
    expect(mine.sort()).toEqual(
      [
        'get /api/me',
        'get /api/principals',
        'post /api/principals',
        'get /api/principals/{principal}',
        'put /api/principals/{principal}/roles',
        'post /api/principals/{principal}/disable',
        'get /api/tokens',
        'post /api/tokens',
        'post /api/tokens/{tokenId}/revoke',
      ].sort(),
    )
    expect(mine.filter((op) => !api.covered.has(op))).toEqual([])
  })
})
