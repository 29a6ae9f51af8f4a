import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo, Server } from 'node:net'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, assertBuilt, runCli, tempDirs } from './helpers.js'
import type { Json } from './server-clients.js'

/**
 * The tools example (examples/tools) as a user runs it, with no API key: an agent on the simulated
 * provider reads a page with the built-in http.fetch and saves a note with the tool of an external
 * MCP server over stdio (the example's notes server, a real child process). The page is a local
 * HTTP server, allowed through `allow_private` in a copy of the example's configuration.
 */

const EXAMPLE = join(REPO_ROOT, 'examples', 'tools')
const dirs = tempDirs()
let page: Server
let pageUrl: string

beforeAll(async () => {
  assertBuilt()
  page = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain; charset=utf-8')
    res.end('Durable agents never lose a step.')
  })
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve))
  pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`
})

afterAll(async () => {
  await new Promise((resolve) => page?.close(resolve))
  await dirs.cleanup()
})

/** The example's shiioo.toml, pointed at its files from `dir`, with extra settings. */
async function config(dir: string, edit: (toml: string) => string): Promise<string> {
  const toml = (await readFile(join(EXAMPLE, 'shiioo.toml'), 'utf8'))
    .replace('script = "researcher.simulated.yaml"', `script = "${join(EXAMPLE, 'researcher.simulated.yaml')}"`)
    .replace(
      'args = ["notes-mcp-server.mjs"]',
      `args = ["${join(EXAMPLE, 'notes-mcp-server.mjs')}"]\nenv = ["NOTES_FILE"]`,
    )
  const file = join(dir, 'shiioo.toml')
  await writeFile(file, edit(toml))
  return file
}

const json = async (dir: string, args: string[], env: Record<string, string>): Promise<Json> => {
  const r = await runCli([...args, '--json'], { cwd: dir, env })
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

describe('the tools example', () => {
  it("fetches a page with http.fetch and saves a note with the external server's tool; both calls audited", async () => {
    const dir = await dirs.make('shiioo-tools-example-')
    const notes = join(dir, 'notes.json')
    const file = await config(dir, (t) => t.replace('[tools.http]', '[tools.http]\nallow_private = ["127.0.0.1"]'))
    const env = { NOTES_FILE: notes }
    const r = await runCli(
      ['run', join(EXAMPLE, 'fetch-and-note.yaml'), '--config', file, '--input', `url=${pageUrl}`, '--data-dir', dir],
      { cwd: dir, env },
    )
    expect(r.stderr).not.toMatch(/^error:/m)
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toBe('I read the page and saved a note about it: {"saved":true,"number":1}')
    expect(r.stderr).toContain('research says (turn 3): I read the page and saved a note about it')
    // the external server really ran and kept what the page said
    const saved = JSON.parse(await readFile(notes, 'utf8')) as Array<{ title: string; text: string }>
    expect(saved).toHaveLength(1)
    expect(saved[0]!.text).toContain('Durable agents never lose a step.')
    expect(saved[0]!.text).toContain('"status":200')

    const audit = (await json(dir, ['audit', 'list', '--data-dir', dir], env)) as {
      items: Array<{ action: string; subject: { id: string }; outcome: { status: string }; actor: { kind: string } }>
    }
    const calls = audit.items.filter((e) => e.action === 'tool.invoke').reverse()
    expect(calls.map((e) => [e.subject.id, e.outcome.status, e.actor.kind])).toEqual([
      ['http.fetch', 'ok', 'agent'],
      ['notes.save', 'ok', 'agent'],
    ])
    const verified = (await json(dir, ['audit', 'verify', '--data-dir', dir], env)) as { ok: boolean }
    expect(verified.ok).toBe(true)
    // each call and its result are in the run's recorded turns
    const runs = (await json(dir, ['runs', 'list', '--data-dir', dir], env)) as { items: Array<{ runId: string }> }
    const events = await runCli(['events', runs.items[0]!.runId, '--data-dir', dir, '--json'], { cwd: dir, env })
    const recorded = events.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; data: { tool?: string; error?: unknown } })
    expect(recorded.filter((e) => e.type === 'agent.turn')).toHaveLength(3)
    // and each tool call is an event of its own
    expect(recorded.filter((e) => e.type === 'agent.tool').map((e) => [e.data.tool, e.data.error ?? null])).toEqual([
      ['http.fetch', null],
      ['notes.save', null],
    ])
    expect(r.stderr).toMatch(/research turn 1 called http\.fetch: ok/)
  })

  it('refuses the loopback page without allow_private, and the agent is told why', async () => {
    const dir = await dirs.make('shiioo-tools-example-')
    const file = await config(dir, (t) => t)
    const r = await runCli(
      ['run', join(EXAMPLE, 'fetch-and-note.yaml'), '--config', file, '--input', `url=${pageUrl}`, '--data-dir', dir],
      { cwd: dir, env: { NOTES_FILE: join(dir, 'notes.json') } },
    )
    expect(r.code).toBe(0)
    const saved = JSON.parse(await readFile(join(dir, 'notes.json'), 'utf8')) as Array<{ text: string }>
    expect(saved[0]!.text).toContain('FORBIDDEN: http.fetch may not reach 127.0.0.1: a loopback address')
  })

  it("an agent step uses an external server's tool over Streamable HTTP; the call is in the run's events and the audit chain", async () => {
    const dir = await dirs.make('shiioo-tools-http-')
    const fixture = spawn(
      process.execPath,
      [join(REPO_ROOT, 'packages/mcp/test/fixtures/test-mcp-server.mjs'), '--http', '0'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    )
    try {
      const port = await new Promise<string>((resolve, reject) => {
        let out = ''
        fixture.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d
          const m = /listening (\d+)/.exec(out)
          if (m) resolve(m[1]!)
        })
        fixture.once('exit', () => reject(new Error(`the test MCP server exited: ${out}`)))
      })
      await writeFile(
        join(dir, 'remote.simulated.yaml'),
        [
          'rules:',
          '  - when: { hasToolResults: false }',
          "    reply: { toolCalls: [{ name: remote.echo, input: { text: 'over http' } }] }",
          '  - when: { hasToolResults: true }',
          "    reply: { text: 'the remote server said {{toolResult}}' }",
        ].join('\n'),
      )
      await writeFile(
        join(dir, 'shiioo.toml'),
        [
          '[[capacity.sources]]',
          'id = "demo"',
          'provider = "simulated"',
          'script = "remote.simulated.yaml"',
          'models = ["simulated"]',
          '[capacity]',
          'default_model = "simulated"',
          '[[mcp.servers]]',
          'prefix = "remote"',
          `url = "http://127.0.0.1:${port}/mcp"`,
        ].join('\n'),
      )
      await writeFile(
        join(dir, 'ask.yaml'),
        "name: ask-remote\nsteps:\n  - id: ask\n    kind: agent\n    role: asker\n    prompt: 'Ask the remote server.'\n    tools: [remote.echo]\noutput: '${{ steps.ask.output.text }}'\n",
      )
      const r = await runCli(['run', 'ask.yaml', '--data-dir', dir], { cwd: dir })
      expect(r.stderr).not.toMatch(/^error:/m)
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toBe('the remote server said "over http"')
      expect(r.stderr).toMatch(/ask turn 1 called remote\.echo: ok/)
      const audit = (await json(dir, ['audit', 'list', '--data-dir', dir], {})) as {
        items: Array<{ action: string; subject: { id: string }; outcome: { status: string } }>
      }
      expect(
        audit.items.filter((e) => e.action === 'tool.invoke').map((e) => [e.subject.id, e.outcome.status]),
      ).toEqual([['remote.echo', 'ok']])
    } finally {
      fixture.kill('SIGKILL')
    }
  })

  it('gives a step a clear, retryable error while its external server cannot start, and other tools still work', async () => {
    const dir = await dirs.make('shiioo-tools-dead-')
    const file = await config(dir, (t) =>
      t.replace(`args = ["${join(EXAMPLE, 'notes-mcp-server.mjs')}"]`, `args = ["${join(dir, 'no-such-server.mjs')}"]`),
    )
    await writeFile(
      join(dir, 'steps.yaml'),
      [
        'name: two-tools',
        'steps:',
        '  - id: echo',
        '    kind: tool',
        '    tool: core.echo',
        '    input: { said: hello }',
        '  - id: save',
        '    kind: tool',
        '    tool: notes.save',
        '    needs: [echo]',
        '    input: { title: t, text: x }',
        '    retry: { maxAttempts: 2, backoff: { initial: 10ms } }',
      ].join('\n'),
    )
    const r = await runCli(['run', 'steps.yaml', '--config', file, '--data-dir', dir], {
      cwd: dir,
      env: { NOTES_FILE: join(dir, 'notes.json') },
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/echo completed/)
    expect(r.stderr).toMatch(
      /save failed \(attempt 1\): UNAVAILABLE: the tool source mcp:notes is unavailable.*; retrying/,
    )
    expect(r.stderr).toMatch(/run failed at step save: UNAVAILABLE: the tool source mcp:notes is unavailable/)
  })
})
