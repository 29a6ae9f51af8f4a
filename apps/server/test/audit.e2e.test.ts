import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, assertBuilt, runCli, tempDirs } from './helpers.js'

const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

interface Entry {
  seq: number
  action: string
  actor: { kind: string; id: string }
  subject: { kind: string; id: string | null }
  outcome: { status: string; code?: string }
  details: Record<string, unknown>
  prevHash: string
  hash: string
}

/** The audit stream's records, and how to write them back as well-formed gzip members (as someone with the files would). */
async function auditFile(cwd: string) {
  const path = join(cwd, 'data', 'control', 'audit.jsonl.gz')
  const original = await readFile(path)
  const records = gunzipSync(original)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { seq: number; data: Entry })
  return {
    original,
    records,
    write: (rs: readonly object[]) => writeFile(path, Buffer.concat(rs.map((r) => gzipSync(JSON.stringify(r) + '\n')))),
    restore: () => writeFile(path, original),
  }
}

describe('shiioo audit', () => {
  it('lists a run start, verifies and exports the chain; tampering makes verify exit 1 naming the seq', async () => {
    const cwd = await dirs.make()
    const run = await runCli(
      [
        'run',
        join(REPO_ROOT, 'examples/workflows/linear-agent-pipeline.yaml'),
        '--config',
        join(REPO_ROOT, 'examples/capacity/shiioo.toml'),
        '--input',
        'topic=durability',
        '--json',
      ],
      { cwd },
    )
    expect(run.code).toBe(0)
    const { runId } = JSON.parse(run.stdout) as { runId: string }

    const list = await runCli(['audit', 'list', '--json'], { cwd })
    expect(list.code).toBe(0)
    const page = JSON.parse(list.stdout) as { items: Entry[]; nextBefore: number | null }
    const start = page.items.find((e) => e.action === 'run.start')
    expect(start).toMatchObject({
      actor: { kind: 'user', id: expect.stringMatching(/^local:/) },
      subject: { kind: 'workflow', id: 'linear-agent-pipeline' },
      outcome: { status: 'ok' },
      details: { runId, duplicate: false },
    })
    const n = page.items.length
    expect(n).toBeGreaterThanOrEqual(2) // the start, then driving the run to its end
    expect(page.nextBefore).toBeNull()

    const table = await runCli(['audit', 'list', '--action', 'run.start'], { cwd })
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^SEQ +TIME +ACTOR +ACTION +SUBJECT +OUTCOME +DETAILS\n/)
    expect(table.stdout).toContain(`run.start  workflow linear-agent-pipeline  ok`)

    const ok = await runCli(['audit', 'verify'], { cwd })
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(
      new RegExp(`^ok: the audit chain of tenant default holds ${n} entries; head seq ${n} hash [0-9a-f]{64}\\n$`),
    )

    const exported = await runCli(['audit', 'export'], { cwd })
    expect(exported.code).toBe(0)
    const lines = exported.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Entry)
    expect(lines.map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1))
    expect(lines[n - 1]).toEqual(page.items[0])

    const bad = await runCli(['audit', 'list', '--since', 'yesterday'], { cwd })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/^error: since must be an ISO-8601 date or instant/)

    const file = await auditFile(cwd)
    // the last entry deleted: the stream's recovery point says it was acknowledged
    await file.write(file.records.slice(0, -1))
    const cut = await runCli(['audit', 'verify', '--json'], { cwd })
    expect(cut.code).toBe(1)
    expect(JSON.parse(cut.stdout)).toMatchObject({ ok: false, firstBad: { seq: n } })
    await file.restore()
    expect((await runCli(['audit', 'verify'], { cwd })).code).toBe(0)

    // the first entry edited, the recovery points rewritten away too: the chain names it
    const [first, ...rest] = file.records
    await file.write([{ ...first, data: { ...first!.data, actor: { kind: 'user', id: 'local:mallory' } } }, ...rest])
    await rm(join(cwd, 'data', 'recovery'), { recursive: true, force: true })
    const edited = await runCli(['audit', 'verify'], { cwd })
    expect(edited.code).toBe(1)
    expect(edited.stdout).toMatch(
      /^first bad entry: seq 1: entry 1 was altered: it hashes to [0-9a-f]{64}, not to its recorded hash/,
    )
    const all = await runCli(['verify'], { cwd })
    expect(all.code).toBe(1)
    expect(all.stdout).toMatch(
      /first bad record: stream audit \(tenant default\) seq 1: audit chain: entry 1 was altered/,
    )
  })
})
