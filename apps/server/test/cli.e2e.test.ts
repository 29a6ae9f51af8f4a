import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TenantId } from '@shiioo/core'
import { assertBuilt, runCli, startServe, tempDirs, writeRun } from './helpers.js'

const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

async function streamFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile() && e.name.endsWith('.jsonl.gz')).map((e) => join(e.parentPath, e.name))
}

describe('shiioo serve', () => {
  it('listens on a free port, answers /api/health over HTTP and exits 0 on SIGTERM', async () => {
    const cwd = await dirs.make()
    const server = await startServe(['--port', '0', '--log-level', 'warn'], { cwd })
    try {
      expect(server.line).toMatch(/^shiioo listening on http:\/\/127\.0\.0\.1:\d+ \(data dir \.\/data\)$/)
      expect(server.port).toBeGreaterThan(0)
      const res = await fetch(`${server.url}/api/health`)
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ status: 'ok', version: expect.any(String) })
      // every API route but health and the API's description needs a token, unknown ones too
      const missing = await fetch(`${server.url}/api/nope`)
      expect(missing.status).toBe(401)
      expect(await missing.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } })
    } finally {
      const result = await server.stop('SIGTERM')
      expect(result.code).toBe(0)
    }
  })

  it('exits 0 on SIGINT too', async () => {
    const cwd = await dirs.make()
    const server = await startServe(['--port', '0', '--log-level', 'silent'], { cwd })
    expect((await server.stop('SIGINT')).code).toBe(0)
  })

  it('takes settings from SHIIOO_* and shiioo.toml', async () => {
    const cwd = await dirs.make()
    await writeFile(join(cwd, 'shiioo.toml'), '[storage]\ndata_dir = "store"\n[log]\nlevel = "silent"\n')
    const server = await startServe([], { cwd, env: { SHIIOO_PORT: '0' } })
    expect(server.line).toContain('(data dir ./store)')
    expect((await server.stop()).code).toBe(0)
  })

  it('names the port and the way out when the port is taken', async () => {
    const cwd = await dirs.make()
    const first = await startServe(['--port', '0', '--log-level', 'silent'], { cwd })
    try {
      const second = await runCli(['serve', '--port', String(first.port), '--log-level', 'silent'], { cwd })
      expect(second.code).toBe(1)
      expect(second.stderr).toContain(`port ${first.port} on 127.0.0.1 is already in use`)
      expect(second.stderr).toContain('--port')
      expect(second.stderr).toContain('SHIIOO_PORT')
    } finally {
      await first.stop()
    }
  })
})

describe('shiioo --help', () => {
  const commands: Array<[string[], string[]]> = [
    [[], ['serve', 'events', 'index', 'verify']],
    [['serve'], ['--host', '--port', '--data-dir', '--config', '--log-level']],
    [['events'], ['<run-id>', '--tenant', '--json', '--data-dir', '--config', '--log-level']],
    [['index'], ['rebuild']],
    [
      ['index', 'rebuild'],
      ['--json', '--data-dir', '--config', '--log-level'],
    ],
    [['verify'], ['--json', '--data-dir', '--config', '--log-level']],
  ]
  it.each(commands)('shiioo %j --help lists its options', async (command, expected) => {
    const cwd = await dirs.make()
    const result = await runCli([...command, '--help'], { cwd })
    expect(result.code).toBe(0)
    for (const word of expected) expect(result.stdout).toContain(word)
  })
})

describe('configuration errors', () => {
  it('stops with exit code 2 and names the setting', async () => {
    const cwd = await dirs.make()
    const env = await runCli(['serve'], { cwd, env: { SHIIOO_PORT: 'abc' } })
    expect(env.code).toBe(2)
    expect(env.stderr).toContain('config error: SHIIOO_PORT: must be an integer')
    expect(env.stderr).toContain('(got "abc")')

    await writeFile(join(cwd, 'shiioo.toml'), '[server]\nprot = 1\n')
    const toml = await runCli(['serve'], { cwd })
    expect(toml.code).toBe(2)
    expect(toml.stderr).toContain('config error: shiioo.toml: server.prot is not a known setting')
  })

  it('treats an unknown option as a usage error (exit 2)', async () => {
    const result = await runCli(['verify', '--prot', '1'], { cwd: await dirs.make() })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("unknown option '--prot'")
  })
})

describe('data commands', () => {
  let cwd: string
  let runId: string
  beforeAll(async () => {
    cwd = await dirs.make()
    runId = await writeRun(join(cwd, 'data'), { steps: 2 })
    await writeRun(join(cwd, 'data'), { steps: 1 })
  })

  it('events prints a run as aligned text', async () => {
    const result = await runCli(['events', runId, '--log-level', 'silent'], { cwd })
    expect(result.code).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^SEQ\s+TIME\s+TYPE\s+ACTOR\s+DATA$/)
    expect(lines).toHaveLength(1 + 6)
    expect(lines[1]).toMatch(/^\s*1 {2}\d{4}-\d\d-\d\dT\S+Z {2}run\.started\s+user:alice {2}\{"workflow":/)
    // columns line up: the TYPE column starts at the same offset on every line
    const typeAt = lines[0]!.indexOf('TYPE')
    for (const line of lines.slice(1)) expect(line.slice(typeAt)).toMatch(/^(run|step)\./)
  })

  it('events --json prints one stored event per line', async () => {
    const result = await runCli(['events', runId, '--json'], { cwd, env: { SHIIOO_LOG_LEVEL: 'silent' } })
    expect(result.code).toBe(0)
    const events = result.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; stream: string; type: string; tenant: string })
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6])
    expect(events[0]).toMatchObject({ stream: runId, type: 'run.started', tenant: 'default' })
    expect(Object.keys(events[0]!)).toEqual(['id', 'stream', 'seq', 'type', 'v', 'at', 'tenant', 'actor', 'data'])
  })

  it('events rejects a bad run id with exit 2 and an unknown run with exit 1', async () => {
    const bad = await runCli(['events', 'run_nope'], { cwd })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('is not a run id')
    const unknown = await runCli(['events', 'run_01ARZ3NDEKTSV4RRFFQ69G5FAV', '--log-level', 'silent'], { cwd })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('no run run_01ARZ3NDEKTSV4RRFFQ69G5FAV in tenant default')
  })

  it('events reads a run of another tenant as a caller of that tenant, and only then', async () => {
    const dir = await dirs.make()
    const other = await writeRun(join(dir, 'data'), { tenant: 'acme' as TenantId, steps: 1 })
    const theirs = await runCli(['events', other, '--tenant', 'acme', '--json', '--log-level', 'silent'], { cwd: dir })
    expect(theirs.code).toBe(0)
    expect(
      theirs.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { tenant: string }).tenant),
    ).toEqual(Array(4).fill('acme'))
    const mine = await runCli(['events', other, '--log-level', 'silent'], { cwd: dir })
    expect(mine.code).toBe(1)
    expect(mine.stderr).toContain(`no run ${other} in tenant default`)
    const bad = await runCli(['events', other, '--tenant', 'Not A Tenant'], { cwd: dir })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--tenant')
  })

  it('index rebuild rebuilds from the streams and prints a summary', async () => {
    await writeFile(join(cwd, 'data', 'index.sqlite'), 'not a database')
    // no --log-level: one-shot commands default to warn, so no info lines in the output
    const result = await runCli(['index', 'rebuild'], { cwd })
    expect(result.stderr).not.toContain('"level"')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(
      /^rebuilt index: 2 runs, 10 events from 2 streams in \d+\.\d\d s \([\d,]+ events\/s\)\n$/,
    )
    expect(result.stderr).toContain('rebuilding index: 100% 2/2 streams 10 events')

    // the first rebuild is in the audit chain now: one more stream, one more event
    const json = await runCli(['index', 'rebuild', '--json', '--log-level', 'silent'], { cwd })
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ runs: 2, events: 11, streams: 3, failed: [] })
  })

  it('index rebuild refuses a data dir that a running server has open, and changes nothing', async () => {
    const busy = await dirs.make()
    await writeRun(join(busy, 'data'), { steps: 1 })
    const server = await startServe(['--port', '0', '--log-level', 'silent'], { cwd: busy })
    try {
      const index = join(busy, 'data', 'index.sqlite')
      const before = await readFile(index)
      const refused = await runCli(['index', 'rebuild', '--log-level', 'silent'], { cwd: busy })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain(`is in use by process ${server.child.pid} on `)
      expect(refused.stderr).toMatch(/and run `.*shiioo\S* index rebuild` again/)
      expect((await readFile(index)).equals(before)).toBe(true)
    } finally {
      expect((await server.stop()).code).toBe(0)
    }
    const after = await runCli(['index', 'rebuild', '--json', '--log-level', 'silent'], { cwd: busy })
    expect(after.code).toBe(0)
    expect(JSON.parse(after.stdout)).toMatchObject({ runs: 1, failed: [] })
  })

  it('index rebuild goes ahead when the process that had the data dir open was killed', async () => {
    const left = await dirs.make()
    await writeRun(join(left, 'data'), { steps: 2 })
    const server = await startServe(['--port', '0', '--log-level', 'silent'], { cwd: left })
    expect((await server.stop('SIGKILL')).signal).toBe('SIGKILL')
    const locks = (await readdir(join(left, 'data', 'journal'))).filter((n) => n.endsWith('.lock'))
    expect(locks.length).toBeGreaterThan(0) // the dead server's journal owner lock is still there
    const result = await runCli(['index', 'rebuild', '--json', '--log-level', 'silent'], { cwd: left })
    expect(result.code).toBe(0)
    // the run's events, and the first start's: the admin principal and its token, and their audit entry
    expect(JSON.parse(result.stdout)).toMatchObject({ runs: 1, events: 9, failed: [] })
  })

  it('verify passes a good data dir', async () => {
    const result = await runCli(['verify', '--log-level', 'silent'], { cwd })
    expect(result.code).toBe(0)
    // the runs' two streams and the audit chain of the two index rebuilds before
    expect(result.stdout).toBe(
      'ok: 3 streams, 12 events, 1 blob verified; the events name 1 blob, all stored and whole\n',
    )
  })

  it('verify fails when a blob that an event names is missing, and names the event and the blob', async () => {
    const gone = await dirs.make()
    const dataDir = join(gone, 'data')
    const id = await writeRun(dataDir, { steps: 1 })
    const [blob] = (await readdir(join(dataDir, 'blobs'), { recursive: true, withFileTypes: true })).filter((e) =>
      e.isFile(),
    )
    await rm(join(blob!.parentPath, blob!.name))

    const result = await runCli(['verify', '--log-level', 'silent'], { cwd: gone })
    expect(result.code).toBe(1)
    expect(result.stdout).toBe(
      `first bad record: stream ${id} (tenant default) seq 1: the event names blob ${blob!.name}, which is not in tenant default's blob store\n` +
        '1 problem found (checked 1 stream, 4 events, 0 blobs; the events name 1 blob)\n',
    )
  })

  it('verify fails on a corrupted stream and names the first bad record', async () => {
    const bad = await dirs.make()
    const dataDir = join(bad, 'data')
    const id = await writeRun(dataDir, { steps: 3 })
    const [file] = await streamFiles(dataDir)
    const bytes = await readFile(file!)
    const middle = Math.floor(bytes.length / 2)
    for (let i = middle; i < middle + 4; i++) bytes[i] = bytes[i]! ^ 0xff
    await writeFile(file!, bytes)

    const result = await runCli(['verify', '--log-level', 'silent'], { cwd: bad })
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(
      new RegExp(`^first bad record: stream ${id} \\(tenant default\\)( seq \\d+)?( at byte \\d+)?: .+`),
    )
    expect(result.stdout).toMatch(
      /\n1 problem found \(checked 1 stream, \d+ events?, 1 blob; the events name \d+ blobs?\)\n$/,
    )

    const json = await runCli(['verify', '--json', '--log-level', 'silent'], { cwd: bad })
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, problems: [{ kind: 'stream', id }] })
  })

  it('refuses a data dir that does not exist, or is a file, as bad input (exit 2)', async () => {
    for (const command of [['verify'], ['events', runId], ['runs', 'list'], ['index', 'rebuild']]) {
      const result = await runCli([...command, '--data-dir', 'nowhere'], { cwd })
      expect(result.code).toBe(2)
      expect(result.stderr).toBe(
        `error: data dir ${join(cwd, 'nowhere')} does not exist (set --data-dir or SHIIOO_DATA_DIR)\n`,
      )
    }
    await writeFile(join(cwd, 'a-file'), '')
    const file = await runCli(['verify', '--data-dir', 'a-file'], { cwd })
    expect(file.code).toBe(2)
    expect(file.stderr).toContain(`error: data dir ${join(cwd, 'a-file')} is not a directory`)
  })
})
