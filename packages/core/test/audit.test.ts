import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import type { AuditDraft, AuditEntry, StreamId, TenantId } from '../src/index.js'
import {
  AUDIT_STREAM,
  AuditTrail,
  FsBlobStore,
  GENESIS_HASH,
  canonicalJson,
  hashAuditEntry,
  openFsEventLog,
  streamPath,
  verifyDataDir,
} from '../src/index.js'

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'shiioo-audit-'))
  dirs.push(d)
  return d
}
const T = 'default' as TenantId
const stream = AUDIT_STREAM as StreamId

const draft = (i: number): AuditDraft => ({
  at: new Date(Date.UTC(2026, 11, 3, 12, 0, i)).toISOString(),
  actor: { kind: 'user', id: 'local:alice' },
  action: i % 2 ? 'run.start' : 'run.decide',
  subject: { kind: 'run', id: `run_${i}` },
  outcome: i === 3 ? { status: 'denied', code: 'FORBIDDEN', message: 'no' } : { status: 'ok' },
  details: { n: i, decision: 'approve' },
})

/** A data dir whose default tenant holds an audit chain of `n` entries, written by a process that stopped. */
async function chainOf(n: number): Promise<string> {
  const dir = tempDir()
  const log = openFsEventLog({ dataDir: dir })
  const trail = new AuditTrail({ log })
  for (let i = 1; i <= n; i++) await trail.record(T, draft(i))
  await log.close()
  return dir
}

async function verified(dir: string) {
  const log = openFsEventLog({ dataDir: dir, readOnly: true })
  try {
    const chain = await new AuditTrail({ log }).verify(T)
    const report = await verifyDataDir({ log, blobs: new FsBlobStore({ dataDir: dir }) })
    return { chain, report }
  } finally {
    await log.close()
  }
}

/** A stored record of the audit stream, as the file holds it. */
interface Rec {
  id: string
  seq: number
  data: AuditEntry
}

/**
 * Rewrites the audit stream as someone with write access to the files would: every record
 * decompressed, changed by `edit`, and written back as well-formed gzip members (so the log's own
 * framing and checksums pass). `keepPoints: false` also removes the recovery points, as someone who
 * rewrites every file would (then only the chain itself can tell).
 */
function tamper(dir: string, edit: (records: Rec[]) => Rec[], keepPoints = false) {
  const path = streamPath(dir, T, stream)
  const lines = gunzipSync(readFileSync(path)).toString('utf8').split('\n').filter(Boolean)
  const records = edit(lines.map((l) => JSON.parse(l) as Rec))
  writeFileSync(path, Buffer.concat(records.map((r) => gzipSync(JSON.stringify(r) + '\n'))))
  if (!keepPoints) rmSync(join(dir, 'recovery'), { recursive: true, force: true })
}

describe('the audit chain', () => {
  it('serializes canonically: sorted keys, no whitespace, the same hash whatever the key order', () => {
    expect(canonicalJson({ b: [1, 'x', { d: null, c: true }], a: 1.5, u: undefined })).toBe(
      '{"a":1.5,"b":[1,"x",{"c":true,"d":null}]}',
    )
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/no canonical JSON/)
    const entry = { ...draft(1), seq: 1, tenant: 'default', prevHash: GENESIS_HASH }
    const reordered = Object.fromEntries(Object.entries(entry).reverse()) as typeof entry
    expect(hashAuditEntry(reordered)).toBe(hashAuditEntry(entry))
    expect(hashAuditEntry({ ...entry, details: { n: 2, decision: 'approve' } })).not.toBe(hashAuditEntry(entry))
  })

  it('links each entry to the one before, from the genesis value, and verifies', async () => {
    const dir = await chainOf(4)
    const log = openFsEventLog({ dataDir: dir, readOnly: true })
    const entries = await new AuditTrail({ log }).entries(T)
    await log.close()
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4])
    expect(entries[0]!.prevHash).toBe(GENESIS_HASH)
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash)
    for (const e of entries) expect(e.hash).toBe(hashAuditEntry(e))
    expect(entries[2]).toMatchObject({ tenant: 'default', outcome: { status: 'denied', code: 'FORBIDDEN' } })
    const { chain, report } = await verified(dir)
    expect(chain).toEqual({ tenant: T, entries: 4, head: { seq: 4, hash: entries[3]!.hash }, problem: null })
    expect(report.ok).toBe(true)
  })

  it('does not fork when two writers append at once: the loser re-reads the head and links to it', async () => {
    const dir = tempDir()
    const log = openFsEventLog({ dataDir: dir })
    const a = new AuditTrail({ log })
    const b = new AuditTrail({ log })
    await a.record(T, draft(1))
    await b.record(T, draft(2)) // b read the head a wrote
    await a.record(T, draft(3)) // a's head is stale: CONFLICT, then it links to b's entry
    await Promise.all([a.record(T, draft(4)), b.record(T, draft(5)), a.record(T, draft(6)), b.record(T, draft(7))])
    const check = await a.verify(T)
    expect(check).toMatchObject({ entries: 7, problem: null, head: { seq: 7 } })
    await log.close()
  })

  it('an edited entry is named by its seq', async () => {
    const dir = await chainOf(5)
    tamper(dir, (rs) => {
      rs[2]!.data.outcome = { status: 'ok' } // a denial turned into a success
      return rs
    })
    const { chain, report } = await verified(dir)
    expect(chain.problem).toMatchObject({ seq: 3, message: expect.stringMatching(/entry 3 was altered/) })
    expect(chain.head?.seq).toBe(2)
    expect(report.problems[0]).toMatchObject({ id: 'audit', seq: 3, message: expect.stringMatching(/^audit chain: /) })
  })

  it('an edited entry whose hash was recomputed breaks the link of the next one', async () => {
    const dir = await chainOf(5)
    tamper(dir, (rs) => {
      rs[2]!.data.actor = { kind: 'user', id: 'local:mallory' }
      rs[2]!.data.hash = hashAuditEntry(rs[2]!.data)
      return rs
    })
    const { chain } = await verified(dir)
    expect(chain.problem).toMatchObject({ seq: 4, message: expect.stringMatching(/does not link to entry 3/) })
  })

  it('two entries swapped (seqs renumbered so the log accepts them) are named at the first', async () => {
    const dir = await chainOf(5)
    tamper(dir, (rs) => {
      const [third, fourth] = [rs[2]!, rs[3]!]
      for (const [r, seq] of [
        [fourth, 3],
        [third, 4],
      ] as const) {
        r.seq = seq
        r.data.seq = seq
      }
      return [rs[0]!, rs[1]!, fourth, third, rs[4]!]
    })
    const { chain, report } = await verified(dir)
    expect(chain.problem).toMatchObject({ seq: 3, message: expect.stringMatching(/does not link to entry 2/) })
    expect(report.problems[0]).toMatchObject({ id: 'audit', seq: 3 })
  })

  it('two records swapped as they are: the log refuses them out of order, naming the seq', async () => {
    const dir = await chainOf(5)
    tamper(dir, (rs) => [rs[0]!, rs[1]!, rs[3]!, rs[2]!, rs[4]!])
    const { chain, report } = await verified(dir)
    expect(chain.problem?.seq).toBe(3)
    expect(report.problems[0]).toMatchObject({ id: 'audit', seq: 3 })
  })

  it('the last entries deleted: the recovery point names the first missing seq', async () => {
    const dir = await chainOf(5)
    tamper(dir, (rs) => rs.slice(0, 3), true)
    const { chain, report } = await verified(dir)
    expect(chain.problem).toMatchObject({ seq: 4 })
    expect(report.problems[0]).toMatchObject({ id: 'audit', seq: 4 })
  })

  it('the last entries deleted along with the recovery points: the chain alone cannot tell (see docs/audit.md)', async () => {
    const dir = await chainOf(5)
    tamper(dir, (rs) => rs.slice(0, 3))
    const { chain } = await verified(dir)
    expect(chain).toMatchObject({ entries: 3, head: { seq: 3 }, problem: null })
  })

  it('a file cut mid-record is named at the record cut', async () => {
    const dir = await chainOf(5)
    const path = streamPath(dir, T, stream)
    const size = readFileSync(path).length
    truncateSync(path, size - 20) // into the last record
    const { chain, report } = await verified(dir)
    expect(chain.problem).toMatchObject({ seq: 5 })
    expect(report.problems[0]).toMatchObject({ id: 'audit', seq: 5 })
  })

  it('an entry inserted in the middle is named where it stands', async () => {
    const dir = await chainOf(4)
    tamper(dir, (rs) => {
      const forged = structuredClone(rs[1]!)
      const out = [rs[0]!, rs[1]!, forged, rs[2]!, rs[3]!]
      out.forEach((r, i) => {
        r.seq = i + 1
        r.data.seq = i + 1
      })
      forged.id = 'evt_01ARZ3NDEKTSV4RRFFQ69G5FAV'
      return out
    })
    const { chain } = await verified(dir)
    expect(chain.problem?.seq).toBe(3)
  })
})
