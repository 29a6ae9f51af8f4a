import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli, startServe, tempDirs } from './helpers.js'

const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

const TOKEN = /shiioo_[A-Za-z0-9_-]{43}/g

interface Principal {
  id: string
  name: string
  kind: string
  roles: string[]
  status: string
}
interface Token {
  id: string
  principalId: string
  name: string
  prefix: string
  status: string
  expiresAt: string | null
}

async function json<T>(args: string[], cwd: string): Promise<T> {
  const r = await runCli([...args, '--json'], { cwd })
  expect(r.stderr).toBe('')
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as T
}

describe('shiioo serve: the first start', () => {
  it('makes the admin principal and prints its token once, on stderr, never in a log line', async () => {
    const cwd = await dirs.make()
    const first = await startServe(['--port', '0'], { cwd })
    const ended = await first.stop()
    const printed = ended.stderr.match(TOKEN) ?? []
    expect(printed).toHaveLength(1)
    expect(ended.stderr).toContain(`export SHIIOO_TOKEN=${printed[0]}`)
    expect(ended.stdout).toBe('')
    // the log lines (JSON) do not hold it
    for (const line of ended.stderr.split('\n').filter((l) => l.startsWith('{'))) expect(line).not.toMatch(TOKEN)

    const second = await startServe(['--port', '0'], { cwd })
    const again = await second.stop()
    expect(again.stderr).not.toMatch(TOKEN)

    const principals = await json<Principal[]>(['principal', 'list'], cwd)
    expect(principals).toMatchObject([{ name: 'admin', kind: 'user', roles: ['admin'], status: 'active' }])
    const tokens = await json<Token[]>(['token', 'list'], cwd)
    expect(tokens).toMatchObject([{ name: 'bootstrap', prefix: printed[0]!.slice(0, 14), status: 'active' }])
  })

  it('takes SHIIOO_ADMIN_TOKEN: nothing printed, the token added to the admin principal; a short one stops start-up unnamed', async () => {
    const cwd = await dirs.make()
    const chosen = 'chosen-admin-token-0123456789-abcdefghij'
    const server = await startServe(['--port', '0'], { cwd, env: { SHIIOO_ADMIN_TOKEN: chosen } })
    const ended = await server.stop()
    expect(ended.stderr).not.toContain(chosen)
    expect(ended.stderr).not.toMatch(TOKEN)
    const tokens = await json<Token[]>(['token', 'list'], cwd)
    expect(tokens).toMatchObject([{ name: 'SHIIOO_ADMIN_TOKEN', prefix: 'chos', status: 'active' }])

    const bad = await runCli(['serve', '--port', '0'], { cwd, env: { SHIIOO_ADMIN_TOKEN: 'too-short-secret' } })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('config error: SHIIOO_ADMIN_TOKEN: must be 32-512 printable characters')
    expect(bad.stderr).not.toContain('too-short-secret')
  })
})

describe('shiioo principal and shiioo token', () => {
  it('manage principals and tokens of a tenant, as text and as JSON, with clear errors', async () => {
    const cwd = await dirs.make()
    // a data dir made before (by `shiioo serve` or `shiioo run`): these commands make none
    await mkdir(join(cwd, 'data'))
    const made = await runCli(['principal', 'create', 'ci-bot', '--kind', 'agent', '--role', 'operator'], { cwd })
    expect(made.code, made.stderr).toBe(0)
    expect(made.stdout).toMatch(/^created agent ci-bot \(prn_\w{26}\) in tenant default, roles operator, active\n$/)
    expect(made.stderr).toContain('give it a token: ')
    const alice = await json<Principal>(['principal', 'create', 'alice', '--role', 'viewer', '--role', 'approver'], cwd)
    expect(alice).toMatchObject({ name: 'alice', kind: 'user', roles: ['viewer', 'approver'] })

    const list = await runCli(['principal', 'list'], { cwd })
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+KIND\s+ROLES\s+STATUS\s+CREATED$/)
    expect(list.stdout).toMatch(/ci-bot\s+agent\s+operator\s+active/)

    // the token alone on stdout, what to do with it on stderr
    const created = await runCli(['token', 'create', 'ci-bot', '--name', 'ci', '--expires-in', '30d'], { cwd })
    expect(created.code, created.stderr).toBe(0)
    const token = created.stdout.trim()
    expect(token).toMatch(/^shiioo_[A-Za-z0-9_-]{43}$/)
    expect(created.stderr).toMatch(/^token tok_\w{26} \(ci\) for principal ci-bot; it expires at 20\d\d-/)
    expect(created.stderr).toContain('shiioo token revoke tok_')
    const viaJson = await json<{ token: string; view: Token }>(['token', 'create', alice.id, '--name', 'laptop'], cwd)
    expect(viaJson.view).toMatchObject({ principalId: alice.id, name: 'laptop', expiresAt: null, status: 'active' })

    const tokens = await json<Token[]>(['token', 'list'], cwd)
    expect(tokens.map((t) => [t.name, t.prefix])).toEqual([
      ['ci', token.slice(0, 14)],
      ['laptop', viaJson.token.slice(0, 14)],
    ])
    const table = await runCli(['token', 'list', '--principal', 'ci-bot'], { cwd })
    expect(table.stdout).toMatch(/^ID\s+PREFIX\s+PRINCIPAL\s+NAME\s+STATUS\s+EXPIRES\s+CREATED\n/)
    expect(table.stdout).toContain(token.slice(0, 14))
    expect(table.stdout).not.toContain(token)
    expect(table.stdout).not.toContain('laptop')

    const revoked = await runCli(['token', 'revoke', tokens[0]!.id], { cwd })
    expect(revoked.stdout).toBe(`revoked token ${tokens[0]!.id} (${token.slice(0, 14)}…, ci)\n`)
    expect((await json<Token[]>(['token', 'list'], cwd))[0]).toMatchObject({ status: 'revoked' })

    const roles = await json<Principal>(['principal', 'roles', 'alice', '--role', 'auditor'], cwd)
    expect(roles.roles).toEqual(['auditor'])
    const disabled = await runCli(['principal', 'disable', 'alice', '--reason', 'left'], { cwd })
    expect(disabled.stdout).toMatch(/^disabled user alice .* disabled\n$/)

    // errors: named, with the exit code of their kind
    const cases: Array<[string[], number, string]> = [
      [['principal', 'create', 'ci-bot'], 1, 'error: principal ci-bot already exists in this tenant'],
      [['principal', 'create', 'Bad Name'], 2, 'error: name must be 1-64 lowercase letters'],
      [['principal', 'create', 'x', '--role', 'root'], 2, 'error: --role must be one of admin, operator'],
      [['principal', 'create', 'x', '--kind', 'robot'], 2, 'error: --kind must be user or agent'],
      [['principal', 'roles', 'alice'], 2, 'error: give --role at least once'],
      [['token', 'create', 'alice'], 1, 'error: principal alice is disabled: it cannot get tokens'],
      [['token', 'create', 'nobody'], 1, 'error: no principal nobody in this tenant'],
      [['token', 'create', 'ci-bot', '--expires-in', 'soon'], 2, 'error: --expires-in must be a number and m, h or d'],
      [['token', 'revoke', 'not-an-id'], 2, 'error: tokenId must be a token id'],
      [['token', 'revoke', 'tok_01ARZ3NDEKTSV4RRFFQ69G5FAV'], 1, 'error: no token tok_01ARZ3NDEKTSV4RRFFQ69G5FAV'],
    ]
    for (const [args, code, message] of cases) {
      const r = await runCli(args, { cwd })
      expect(r.code, args.join(' ')).toBe(code)
      expect(r.stderr, args.join(' ')).toContain(message)
    }

    // another tenant sees none of it, and its ids of this tenant are not found
    expect(await json<Principal[]>(['principal', 'list', '--tenant', 'acme'], cwd)).toEqual([])
    const foreign = await runCli(['token', 'revoke', tokens[1]!.id, '--tenant', 'acme'], { cwd })
    expect(foreign.code).toBe(1)
    expect(foreign.stderr).toContain(`error: no token ${tokens[1]!.id} in this tenant`)

    // every change is in the audit chain, without a token
    const audit = await runCli(['audit', 'export'], { cwd })
    const actions = audit.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { action: string }).action)
    expect(actions.filter((a) => a === 'token.create')).toHaveLength(4)
    expect(audit.stdout).not.toContain(token)
    expect(audit.stdout).not.toContain(viaJson.token)
  })
})

describe('shiioo serve: principals and tokens over REST', () => {
  it('the admin makes a principal and a token over the API; that token works until it is revoked', async () => {
    const cwd = await dirs.make()
    const admin = 'e2e-admin-token-0123456789-abcdefghijklmn'
    const server = await startServe(['--port', '0'], { cwd, env: { SHIIOO_ADMIN_TOKEN: admin } })
    try {
      const call = (method: string, path: string, token: string, body?: unknown) =>
        fetch(`${server.url}${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
      const me = await call('GET', '/api/me', admin)
      expect(me.status).toBe(200)
      expect(await me.json()).toMatchObject({ tenant: 'default', roles: ['admin'], principal: { name: 'admin' } })

      const principal = await call('POST', '/api/principals', admin, {
        kind: 'agent',
        name: 'ci-bot',
        roles: ['operator'],
      })
      expect(principal.status).toBe(201)
      const bot = (await principal.json()) as Principal
      const created = await call('POST', '/api/tokens', admin, { principal: 'ci-bot', name: 'ci' })
      expect(created.status).toBe(201)
      const { token, id } = (await created.json()) as Token & { token: string }
      expect(token).toMatch(/^shiioo_[A-Za-z0-9_-]{43}$/)

      const asBot = await call('GET', '/api/me', token)
      expect(asBot.status).toBe(200)
      expect(await asBot.json()).toMatchObject({ actor: { kind: 'agent', id: bot.id }, roles: ['operator'] })
      expect((await call('GET', '/api/runs', token)).status).toBe(200)
      expect((await call('GET', '/api/tokens', token)).status).toBe(403)

      const revoked = await call('POST', `/api/tokens/${id}/revoke`, admin)
      expect(revoked.status).toBe(200)
      expect(await revoked.json()).toMatchObject({ id, status: 'revoked' })
      const refused = await call('GET', '/api/me', token)
      expect(refused.status).toBe(401)
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED')
    } finally {
      const ended = await server.stop()
      expect(ended.stderr).not.toMatch(TOKEN)
    }
    // and the CLI on the same data dir sees what the API made
    const tokens = await json<Token[]>(['token', 'list', '--principal', 'ci-bot'], cwd)
    expect(tokens).toMatchObject([{ name: 'ci', status: 'revoked' }])
  })
})
