import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { RUN_STATUSES, createIdFactory, isShiiooError, parseStreamId, parseTenantId } from '@shiioo/core'
import type { RunSummary } from '@shiioo/core'
import { indexStoreConformance } from '@shiioo/testkit'
import { openSqliteIndex } from '../src/index.js'
import { listRunsSql } from '../src/sqlite-index-store.js'

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'shiioo-index-'))
}

indexStoreConformance('sqlite', async () => {
  const dir = tempDir()
  const path = join(dir, 'index.sqlite')
  const opened = [openSqliteIndex({ path })]
  return {
    store: opened[0]!,
    reopen: async () => {
      const store = openSqliteIndex({ path })
      opened.push(store)
      return store
    },
    cleanup: async () => {
      for (const store of opened) await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

describe('openSqliteIndex', () => {
  const dirs: string[] = []
  const dir = () => {
    const d = tempDir()
    dirs.push(d)
    return d
  }
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  })

  it('refuses a file that is not a SQLite database with a clear error', () => {
    const path = join(dir(), 'index.sqlite')
    writeFileSync(path, 'this is not a database, just some text that is long enough '.repeat(20))
    let err: unknown
    try {
      openSqliteIndex({ path })
    } catch (e) {
      err = e
    }
    expect(isShiiooError(err)).toBe(true)
    expect(err).toMatchObject({ code: 'DATA_CORRUPTED' })
    expect((err as Error).message).toContain(path)
    expect((err as Error).message).toMatch(/not a readable SQLite database.*index rebuild/)
  })

  it('creates the directory, uses WAL and applies migrations once across reopens', async () => {
    const path = join(dir(), 'nested', 'data', 'index.sqlite')
    const checkpoint = { tenant: parseTenantId('acme'), stream: parseStreamId('config'), version: 2, token: 'x' }
    const first = openSqliteIndex({ path })
    await first.save({ runs: [], checkpoints: [checkpoint] })
    await first.close()
    for (let i = 0; i < 3; i++) {
      const again = openSqliteIndex({ path })
      expect(await again.checkpoints()).toEqual([checkpoint])
      await again.close()
    }
    const raw = new Database(path, { readonly: true })
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
      const applied = raw.prepare('SELECT hash FROM __drizzle_migrations').all()
      const tables = raw
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .pluck()
        .all()
      const journal = JSON.parse(readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8'))
      expect(applied).toHaveLength(journal.entries.length)
      expect(tables).toEqual([
        '__drizzle_migrations',
        'llm_calls',
        'meta',
        'projection_rows',
        'runs',
        'stream_checkpoints',
      ])
    } finally {
      raw.close()
    }
  })

  it('fails with UNAVAILABLE after close', async () => {
    const store = openSqliteIndex({ path: ':memory:' })
    await store.close()
    await expect(store.checkpoints()).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('lists every filter combination from an index that gives the order: no table scan, no sort', async () => {
    const path = join(dir(), 'index.sqlite')
    const store = openSqliteIndex({ path })
    let now = Date.parse('2025-03-01T00:00:00.000Z')
    const ids = createIdFactory(() => now)
    const runs: RunSummary[] = []
    for (let i = 0; i < 2000; i++) {
      now += 1000
      const at = new Date(now).toISOString()
      runs.push({
        tenant: parseTenantId(i % 3 === 0 ? 'acme' : 'globex'),
        runId: ids.runId(),
        workflow: `wf-${i % 7}`,
        workflowHash: 'ab'.repeat(32),
        status: RUN_STATUSES[i % RUN_STATUSES.length]!,
        startedAt: at,
        updatedAt: at,
        endedAt: null,
        reason: null,
        version: 1,
        steps: [],
      })
    }
    await store.save({ runs, checkpoints: [] })
    await store.close() // runs PRAGMA optimize: the planner has statistics, as on a long-lived index
    const raw = new Database(path, { readonly: true })
    try {
      const cursor = Buffer.from(`v1:${runs[1000]!.runId}`).toString('base64url')
      const tenant = parseTenantId('acme')
      for (const status of [undefined, 'completed', 'paused'] as const) {
        for (const workflow of [undefined, 'wf-3']) {
          for (const after of [undefined, cursor]) {
            const query = { tenant, status, workflow, cursor: after }
            const { text, params } = listRunsSql(JSON.parse(JSON.stringify(query)), 51)
            const plan = raw
              .prepare(`EXPLAIN QUERY PLAN ${text}`)
              .all(...params)
              .map((r) => (r as { detail: string }).detail)
              .join('; ')
            expect(plan, JSON.stringify(query)).toMatch(/^SEARCH runs USING (COVERING )?INDEX/)
            expect(plan, JSON.stringify(query)).not.toContain('TEMP B-TREE')
            if (status !== undefined && workflow !== undefined) {
              expect(plan).toContain('runs_tenant_status_workflow_run_idx (tenant=? AND status=? AND workflow=?')
            }
          }
        }
      }
    } finally {
      raw.close()
    }
  })
})
