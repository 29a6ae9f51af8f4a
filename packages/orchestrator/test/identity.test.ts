import { afterEach, describe, expect, it } from 'vitest'
import type { StoredEvent, TenantId } from '@shiioo/core'
import { AUDIT_STREAM, IDENTITY_STREAM } from '@shiioo/core'
import { FakeClock } from '@shiioo/testkit'
import type { CallerContext, Orchestrator } from '../src/index.js'
import { localCaller, systemCaller } from '../src/index.js'
import { testStacks } from './stack.js'

const stacks = testStacks()
afterEach(() => stacks.cleanup())

const admin = localCaller('alice')
const acme = localCaller('mallory', 'acme' as TenantId)
const TOKEN = /^shiioo_[A-Za-z0-9_-]{43}$/

/** Calls `call` and returns the error it rejected with. */
async function refusal(call: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call()
  } catch (error) {
    return error as { code: string; message: string }
  }
  throw new Error('expected a refusal')
}

/** Polls until `check` passes (another process's change arrives through the feed). */
async function eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > until) throw error
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}

async function userWithToken(o: Orchestrator, name: string, roles: CallerContext['roles'] = ['viewer']) {
  const principal = await o.identity.createPrincipal(admin, { kind: 'user', name, roles })
  const { token, view } = await o.identity.createToken(admin, { principal: name, name: 'laptop' })
  return { principal, token, view }
}

describe('orchestrator.identity', () => {
  it('creates principals and tokens, authenticates a token as its principal, lists and revokes', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const { principal, token, view } = await userWithToken(o, 'bob')
    expect(principal).toMatchObject({
      tenant: 'default',
      kind: 'user',
      name: 'bob',
      roles: ['viewer'],
      status: 'active',
    })
    expect(token).toMatch(TOKEN)
    expect(view).toMatchObject({
      principalId: principal.id,
      name: 'laptop',
      prefix: token.slice(0, 14),
      status: 'active',
    })
    expect(view).not.toHaveProperty('hash')

    const caller = await o.identity.authenticate(token)
    expect(caller).toEqual({ tenant: 'default', actor: { kind: 'user', id: principal.id }, roles: ['viewer'] })
    // the caller goes through the gate with its roles
    await expect(o.runs.list(caller)).resolves.toMatchObject({ items: [] })
    await expect(o.identity.listTokens(caller)).rejects.toMatchObject({ code: 'FORBIDDEN' })

    const agent = await o.identity.createPrincipal(admin, { kind: 'agent', name: 'ci-bot', roles: ['operator'] })
    await o.identity.createToken(admin, { principal: agent.id, name: 'ci' })
    expect((await o.identity.listPrincipals(admin)).map((p) => p.name)).toEqual(['bob', 'ci-bot'])
    expect((await o.identity.listTokens(admin)).map((t) => t.name)).toEqual(['laptop', 'ci'])
    expect((await o.identity.listTokens(admin, { principal: 'ci-bot' })).map((t) => t.name)).toEqual(['ci'])
    expect(await o.identity.getPrincipal(admin, agent.id)).toEqual(agent)

    const revoked = await o.identity.revokeToken(admin, view.id)
    expect(revoked).toMatchObject({ id: view.id, status: 'revoked', revokedAt: expect.any(String) })
    const error = await refusal(() => o.identity.authenticate(token))
    expect(error).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: expect.stringMatching(/was revoked.*shiioo token create/),
    })
    expect(error.message).not.toContain(token)
    // revoking again changes nothing
    await expect(o.identity.revokeToken(admin, view.id)).resolves.toMatchObject({ status: 'revoked' })
  })

  it('whoami: the principal a token stands for, its roles and tenant; a local caller has no principal', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const { principal, token } = await userWithToken(o, 'bob', ['viewer'])
    const bob = await o.identity.authenticate(token)
    expect(await o.identity.whoami(bob)).toEqual({
      tenant: 'default',
      actor: { kind: 'user', id: principal.id },
      roles: ['viewer'],
      principal,
    })
    expect(await o.identity.whoami(admin)).toEqual({
      tenant: 'default',
      actor: { kind: 'user', id: 'local:alice' },
      roles: ['admin'],
      principal: null,
    })
    // a caller naming a principal of another tenant does not see it
    expect((await o.identity.whoami({ ...bob, tenant: 'acme' as TenantId })).principal).toBeNull()
  })

  it('refuses malformed and unknown tokens without repeating them', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    for (const token of ['', 'short', 'shiioo_ has spaces and is long enough to pass', 'x'.repeat(600)]) {
      const e = await refusal(() => o.identity.authenticate(token))
      expect(e).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringContaining('Authorization: Bearer') })
    }
    const unknown = 'shiioo_' + 'A'.repeat(43)
    const e = await refusal(() => o.identity.authenticate(unknown))
    expect(e).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringContaining('not known here') })
    expect(e.message).not.toContain('AAAAAAA')
  })

  it('an expired token is refused at its expiry (injected clock), and listed as expired', async () => {
    const clock = new FakeClock()
    const { orchestrator: o } = stacks.open(await stacks.tempDir(), { clock })
    await o.identity.createPrincipal(admin, { kind: 'agent', name: 'nightly', roles: ['operator'] })
    const expiresAt = new Date(clock.now() + 3_600_000).toISOString()
    const { token } = await o.identity.createToken(admin, { principal: 'nightly', name: 'one hour', expiresAt })
    await expect(o.identity.authenticate(token)).resolves.toMatchObject({ roles: ['operator'] })
    clock.advance(3_600_000)
    await expect(o.identity.authenticate(token)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      message: expect.stringContaining(`expired at ${expiresAt}`),
    })
    expect((await o.identity.listTokens(admin))[0]).toMatchObject({ status: 'expired', expiresAt })
    const past = new Date(clock.now() - 1).toISOString()
    await expect(
      o.identity.createToken(admin, { principal: 'nightly', name: 'x', expiresAt: past }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      details: { field: 'expiresAt' },
    })
  })

  it('audits a known token refused (revoked, expired) in its tenant, at most once a minute per token, counting the rest', async () => {
    const clock = new FakeClock()
    const { orchestrator: o } = stacks.open(await stacks.tempDir(), { clock })
    const nightly = await o.identity.createPrincipal(admin, { kind: 'agent', name: 'nightly', roles: ['operator'] })
    const { token, view } = await o.identity.createToken(admin, { principal: 'nightly', name: 'old' })
    await o.identity.revokeToken(admin, view.id)
    const refusals = async () =>
      (await o.audit.list(admin, { action: 'token.use' })).items.map((e) => ({
        actor: e.actor,
        subject: e.subject,
        outcome: e.outcome.status,
        code: e.outcome.status === 'denied' ? e.outcome.code : null,
        details: e.details,
      }))
    for (let i = 0; i < 5; i++)
      await expect(o.identity.authenticate(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    expect(await refusals()).toEqual([
      {
        actor: { kind: 'agent', id: nightly.id },
        subject: { kind: 'token', id: view.id },
        outcome: 'denied',
        code: 'UNAUTHENTICATED',
        details: { prefix: view.prefix },
      },
    ])
    clock.advance(60_000)
    await expect(o.identity.authenticate(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    const [latest] = await refusals()
    expect(latest!.details).toEqual({ prefix: view.prefix, refusedSinceLastEntry: 4 })
    // an unknown token names no tenant: nothing to record it in
    await expect(o.identity.authenticate(`shiioo_${'x'.repeat(43)}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    expect(await refusals()).toHaveLength(2)
    expect((await o.audit.verify(admin)).ok).toBe(true)
  })

  it("a disabled principal's tokens stop working, it gets no new ones, and its roles can be changed", async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const { token } = await userWithToken(o, 'carol')
    const updated = await o.identity.setRoles(admin, 'carol', ['approver', 'viewer'])
    expect(updated.roles).toEqual(['approver', 'viewer'])
    expect((await o.identity.authenticate(token)).roles).toEqual(['approver', 'viewer'])
    await expect(o.identity.disablePrincipal(admin, 'carol', 'left the team')).resolves.toMatchObject({
      status: 'disabled',
    })
    await expect(o.identity.authenticate(token)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      message: expect.stringContaining('disabled principal'),
    })
    await expect(o.identity.createToken(admin, { principal: 'carol', name: 'again' })).rejects.toMatchObject({
      code: 'CONFLICT',
    })
    await expect(o.identity.createPrincipal(admin, { kind: 'user', name: 'carol', roles: [] })).rejects.toMatchObject({
      code: 'CONFLICT',
    })
    await expect(o.identity.setRoles(admin, 'carol', ['root' as never])).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      details: { field: 'roles' },
    })
  })

  it('a revoke by another orchestrator on the same data dir reaches this one through the feed; tokens survive a restart', async () => {
    const dir = await stacks.tempDir()
    const server = stacks.open(dir)
    const { token, view } = await userWithToken(server.orchestrator, 'dave')
    const kept = await userWithToken(server.orchestrator, 'erin')
    await server.orchestrator.identity.authenticate(token)

    const cli = stacks.open(dir)
    // a principal made there is seen here too
    const { token: fromCli } = await userWithToken(cli.orchestrator, 'frank')
    await cli.orchestrator.identity.revokeToken(admin, view.id)
    await cli.close()
    await eventually(async () => {
      await expect(server.orchestrator.identity.authenticate(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
    })
    await eventually(async () => {
      await expect(server.orchestrator.identity.authenticate(fromCli)).resolves.toMatchObject({ roles: ['viewer'] })
    })
    await server.close()

    const again = stacks.open(dir)
    await expect(again.orchestrator.identity.authenticate(kept.token)).resolves.toMatchObject({
      actor: { id: kept.principal.id },
    })
    await expect(again.orchestrator.identity.authenticate(token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' })
  })

  it("another tenant's principals and tokens are NOT_FOUND, as ids that do not exist", async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const { principal, token, view } = await userWithToken(o, 'grace')
    const missingPrincipal = 'prn_01ARZ3NDEKTSV4RRFFQ69G5FAV'
    const missingToken = 'tok_01ARZ3NDEKTSV4RRFFQ69G5FAV'
    const notFound = async (call: () => Promise<unknown>, missing: () => Promise<unknown>) => {
      const theirs = await refusal(call)
      const none = await refusal(missing)
      expect(theirs.code).toBe('NOT_FOUND')
      expect(theirs.message.replace(/(prn|tok)_\w+/, 'ID')).toBe(none.message.replace(/(prn|tok)_\w+/, 'ID'))
    }
    await notFound(
      () => o.identity.getPrincipal(acme, principal.id),
      () => o.identity.getPrincipal(acme, missingPrincipal),
    )
    await notFound(
      () => o.identity.setRoles(acme, principal.id, ['admin']),
      () => o.identity.setRoles(acme, missingPrincipal, ['admin']),
    )
    await notFound(
      () => o.identity.createToken(acme, { principal: principal.id, name: 'x' }),
      () => o.identity.createToken(acme, { principal: missingPrincipal, name: 'x' }),
    )
    await notFound(
      () => o.identity.revokeToken(acme, view.id),
      () => o.identity.revokeToken(acme, missingToken),
    )
    await expect(o.identity.getPrincipal(acme, 'grace')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    expect(await o.identity.listPrincipals(acme)).toEqual([])
    expect(await o.identity.listTokens(acme)).toEqual([])
    // the same name may exist in two tenants; a token authenticates in its own tenant only
    const theirs = await o.identity.createPrincipal(acme, { kind: 'user', name: 'grace', roles: ['admin'] })
    expect(theirs.id).not.toBe(principal.id)
    expect((await o.identity.authenticate(token)).tenant).toBe('default')
    const { token: acmeToken } = await o.identity.createToken(acme, { principal: 'grace', name: 'acme' })
    expect(await o.identity.authenticate(acmeToken)).toMatchObject({ tenant: 'acme', roles: ['admin'] })
    expect((await o.identity.authenticate(token)).tenant).toBe('default')
  })

  it('audits every change with ids and prefixes, never a token or its hash', async () => {
    const { orchestrator: o, log } = stacks.open(await stacks.tempDir())
    const { principal, token, view } = await userWithToken(o, 'heidi')
    await o.identity.setRoles(admin, principal.id, ['auditor'])
    await o.identity.revokeToken(admin, view.id)
    await o.identity.disablePrincipal(admin, 'heidi')
    await refusal(() => o.identity.createPrincipal(admin, { kind: 'user', name: 'heidi', roles: [] }))
    const viewer = await userWithToken(o, 'ivan')
    await refusal(async () => o.identity.revokeToken(await o.identity.authenticate(viewer.token), viewer.view.id))
    await o.close()

    const events = await log.read({ tenant: 'default' as TenantId, stream: AUDIT_STREAM as StoredEvent['stream'] })
    const entries = events.map((e) => (e.type === 'audit.recorded' ? e.data : null))
    expect(entries.map((e) => [e!.action, e!.outcome.status])).toEqual([
      ['principal.create', 'ok'],
      ['token.create', 'ok'],
      ['principal.set-roles', 'ok'],
      ['token.revoke', 'ok'],
      ['principal.disable', 'ok'],
      ['principal.create', 'error'],
      ['principal.create', 'ok'],
      ['token.create', 'ok'],
      ['token.revoke', 'denied'],
    ])
    expect(entries[1]).toMatchObject({
      subject: { kind: 'principal', id: 'heidi' },
      details: { name: 'laptop', expiresAt: null, tokenId: view.id, principalId: principal.id, prefix: view.prefix },
    })
    expect(entries[8]).toMatchObject({ actor: { kind: 'user', id: viewer.principal.id } })
    const identity = await log.read({ tenant: 'default' as TenantId, stream: IDENTITY_STREAM as StoredEvent['stream'] })
    const hashes = identity.flatMap((e) => (e.type === 'token.created' ? [e.data.hash] : []))
    expect(hashes).toHaveLength(2)
    const audit = JSON.stringify(events)
    for (const secret of [token, viewer.token, ...hashes]) expect(audit).not.toContain(secret)
    // the identity stream holds hashes, never a token
    expect(JSON.stringify(identity)).not.toContain(token)
  })

  it('bootstrap makes the admin principal and its token once; a given token is added when unknown', async () => {
    const dir = await stacks.tempDir()
    const server = systemCaller('server')
    const first = stacks.open(dir)
    const made = await first.orchestrator.identity.bootstrap(server)
    expect(made).toMatchObject({
      principal: { name: 'admin', kind: 'user', roles: ['admin'], status: 'active' },
      createdPrincipal: true,
      addedGivenToken: false,
    })
    expect(made.token).toMatch(TOKEN)
    const caller = await first.orchestrator.identity.authenticate(made.token!)
    expect(caller.roles).toEqual(['admin'])
    // admin can now manage identities over the API
    await expect(first.orchestrator.identity.listTokens(caller)).resolves.toHaveLength(1)
    const again = await first.orchestrator.identity.bootstrap(server)
    expect(again).toMatchObject({ createdPrincipal: false, token: null, addedGivenToken: false })
    await first.close()

    const second = stacks.open(dir)
    const given = 'a-token-the-operator-chose-0123456789'
    const added = await second.orchestrator.identity.bootstrap(server, { token: given })
    expect(added).toMatchObject({
      principal: { id: made.principal.id },
      createdPrincipal: false,
      token: null,
      addedGivenToken: true,
    })
    await expect(second.orchestrator.identity.authenticate(given)).resolves.toMatchObject({ roles: ['admin'] })
    expect((await second.orchestrator.identity.listTokens(admin)).map((t) => [t.name, t.prefix])).toEqual([
      ['bootstrap', made.token!.slice(0, 14)],
      ['SHIIOO_ADMIN_TOKEN', 'a-to'],
    ])
    await expect(second.orchestrator.identity.bootstrap(server, { token: given })).resolves.toMatchObject({
      addedGivenToken: false,
    })
    await expect(second.orchestrator.identity.bootstrap(server, { token: 'too short' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    })
    await second.close()
    const audit = await second.log.read({
      tenant: 'default' as TenantId,
      stream: AUDIT_STREAM as StoredEvent['stream'],
    })
    const boots = audit.flatMap((e) =>
      e.type === 'audit.recorded' && e.data.action === 'identity.bootstrap' ? [e.data] : [],
    )
    expect(boots.map((e) => e.details.createdPrincipal)).toEqual([true, false])
    expect(JSON.stringify(audit)).not.toContain(given)
    expect(JSON.stringify(audit)).not.toContain(made.token)
  })

  it('with a given token on a fresh data dir, the admin gets that token and none is generated', async () => {
    const { orchestrator: o } = stacks.open(await stacks.tempDir())
    const given = 'x'.repeat(40)
    const made = await o.identity.bootstrap(systemCaller('server'), { token: given })
    expect(made).toMatchObject({ createdPrincipal: true, token: null, addedGivenToken: true })
    await expect(o.identity.authenticate(given)).resolves.toMatchObject({ roles: ['admin'] })
  })
})
