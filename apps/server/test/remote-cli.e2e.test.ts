import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServeHandle } from './helpers.js'
import { REPO_ROOT, assertBuilt, runCli, startServe, tempDirs } from './helpers.js'

/**
 * The CLI against a running server (`--server`, `SHIIOO_SERVER`, `SHIIOO_TOKEN`): the same commands
 * and output as on a data dir, as the token's principal, with the server driving the runs.
 */

const dirs = tempDirs()
const TOKEN = randomBytes(32).toString('base64url')
const example = (name: string) => join(REPO_ROOT, 'examples', 'workflows', `${name}.yaml`)
let serve: ServeHandle
let cwd: string
let elsewhere: string

beforeAll(async () => {
  assertBuilt()
  cwd = await dirs.make()
  // the CLI runs in another directory with no data dir: everything it does goes through the server
  elsewhere = await dirs.make()
  serve = await startServe(['--port', '0'], { cwd, env: { SHIIOO_ADMIN_TOKEN: TOKEN, SHIIOO_LOG_LEVEL: 'warn' } })
})
afterAll(async () => {
  await serve?.stop()
  await dirs.cleanup()
})

const remote = (args: string[], env: Record<string, string> = { SHIIOO_TOKEN: TOKEN }) =>
  runCli([...args, '--server', serve.url], { cwd: elsewhere, env })

describe('the CLI against a server', () => {
  it('runs a workflow on the server, following it live, with the output a local run prints', async () => {
    const run = await remote(['run', example('linear-agent-pipeline'), '--input', 'topic=durability'])
    expect(run.stderr).toMatch(/run run_\w+ completed in/)
    expect(run.code).toBe(0)
    const output = JSON.parse(run.stdout) as { topic: string; brief: string }
    expect(output.topic).toBe('durability')
    expect(output.brief).toMatch(/stand-in editor/)
    // the same workflow run locally on its own data dir prints the same output
    const local = await runCli(['run', example('linear-agent-pipeline'), '--input', 'topic=durability'], {
      cwd: await dirs.make(),
    })
    expect(JSON.parse(local.stdout)).toEqual(output)
  })

  it('starts, inspects, decides and verifies as the token principal; the server drives the run', async () => {
    const started = await remote(['run', example('approval-gate'), '--input', 'version=v9', '--detach', '--json'])
    expect(started.code).toBe(0)
    const { runId } = JSON.parse(started.stdout) as { runId: string }
    expect(started.stderr).toBe('')

    const shown = await remote(['runs', 'show', runId])
    expect(shown.stdout).toMatch(/review\s+approval\s+waiting/)
    // the printed hint names the server, so it works when pasted
    expect(shown.stdout).toContain(`decide ${runId} review approve --server ${serve.url}`)

    const decided = await remote(['decide', runId, 'review', 'approve', '--comment', 'ship it'])
    expect(decided.code).toBe(0)
    expect(decided.stdout).toContain(`approved step review of run ${runId}`)
    expect(decided.stderr).toContain(`the server at ${serve.url} drives the run on`)

    let status = ''
    for (let i = 0; i < 100 && status !== 'completed'; i++) {
      const r = await remote(['runs', 'show', runId, '--json'])
      status = (JSON.parse(r.stdout) as { status: string }).status
      if (status !== 'completed') await new Promise((res) => setTimeout(res, 100))
    }
    expect(status).toBe('completed')

    const events = await remote(['events', runId, '--json'])
    const types = events.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type)
    expect(types).toContain('approval.decided')
    expect(types.at(-1)).toBe('run.completed')

    // the audit chain names the token's principal (the admin), not the local user
    const audit = await remote(['audit', 'list', '--json'])
    const { items } = JSON.parse(audit.stdout) as { items: Array<{ action: string; actor: { id: string } }> }
    const decide = items.find((e) => e.action === 'run.decide')
    expect(decide?.actor.id).toMatch(/^prn_/)
    const verify = await remote(['audit', 'verify'])
    expect(verify.code).toBe(0)
    expect(verify.stdout).toMatch(/^ok: the audit chain of tenant default holds \d+ entries/)
  })

  it('manages principals and tokens on the server; a token made there acts with its roles until revoked', async () => {
    const created = await remote(['principal', 'create', 'watcher', '--role', 'viewer', '--json'])
    expect(created.code).toBe(0)
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'watcher', roles: ['viewer'], status: 'active' })
    const made = await remote(['token', 'create', 'watcher', '--name', 'laptop'])
    expect(made.code).toBe(0)
    const token = made.stdout.trim()
    expect(token).toMatch(/^shiioo_/)
    const asWatcher = { SHIIOO_TOKEN: token }
    expect((await remote(['runs', 'list', '--json'], asWatcher)).code).toBe(0)
    const refused = await remote(['principal', 'create', 'intruder', '--role', 'admin'], asWatcher)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/may not principal\.create/)
    const list = await remote(['token', 'list', '--json'])
    const mine = (JSON.parse(list.stdout) as Array<{ id: string; name: string; status: string }>).find(
      (t) => t.name === 'laptop',
    )
    expect(mine?.status).toBe('active')
    expect((await remote(['token', 'revoke', mine!.id])).code).toBe(0)
    const after = await remote(['runs', 'list'], asWatcher)
    expect(after.code).not.toBe(0)
    expect(after.stderr).toMatch(/revoked/)
  })

  it('takes the server from SHIIOO_SERVER too', async () => {
    const list = await runCli(['runs', 'list', '--json'], {
      cwd: elsewhere,
      env: { SHIIOO_SERVER: serve.url, SHIIOO_TOKEN: TOKEN },
    })
    expect(list.code).toBe(0)
    expect((JSON.parse(list.stdout) as { items: unknown[] }).items.length).toBeGreaterThanOrEqual(2)
  })

  it('says what is wrong: no token, a bad token, no server, a command that needs the data dir', async () => {
    const none = await remote(['runs', 'list'], {})
    expect(none.code).not.toBe(0)
    expect(none.stderr).toMatch(/Authorization: Bearer/)
    const bad = await remote(['runs', 'list'], { SHIIOO_TOKEN: 'shiioo_' + 'x'.repeat(43) })
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/token/i)
    const down = await runCli(['runs', 'list', '--server', 'http://127.0.0.1:9'], {
      cwd: elsewhere,
      env: { SHIIOO_TOKEN: TOKEN },
    })
    expect(down.code).not.toBe(0)
    expect(down.stderr).toMatch(/cannot reach the Shiioo server at http:\/\/127\.0\.0\.1:9/)
    const verify = await remote(['verify'])
    expect(verify.code).not.toBe(0)
    expect(verify.stderr).toMatch(/unknown option '--server'/)
    const badUrl = await runCli(['runs', 'list', '--server', 'ftp://x'], { cwd: elsewhere })
    expect(badUrl.code).not.toBe(0)
    expect(badUrl.stderr).toMatch(/--server: must be a server's URL/)
  })
})
