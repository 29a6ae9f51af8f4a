import { readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { utimesSync } from 'node:fs'
import type { EventLog } from '@shiioo/core'
import { DEFAULT_LEASE_TTL_MS, FsBlobStore, blobPath, openFsEventLog, tenantRoot } from '@shiioo/core'
import {
  EventFactory,
  FILLER_TENANT,
  blobStoreConformance,
  eventLogConformance,
  feedConformance,
  leasesConformance,
  MemoryBlobStore,
  MemoryEventLog,
  MemoryLeases,
  MemoryLeaseTable,
} from '../src/index.js'

eventLogConformance('filesystem', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'shiioo-log-'))
  const harness = {
    log: openFsEventLog({ dataDir }),
    reopen: async () => {
      await harness.log.close()
      return openFsEventLog({ dataDir })
    },
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  }
  return harness
})

eventLogConformance('memory (testkit)', async () => ({ log: new MemoryEventLog(), cleanup: async () => {} }))

blobStoreConformance('filesystem', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'shiioo-blobs-'))
  return {
    blobs: new FsBlobStore({ dataDir }),
    tamper: (tenant, key, bytes) => writeFile(blobPath(dataDir, tenant, key), bytes),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  }
})

blobStoreConformance('memory (testkit)', async () => {
  const blobs = new MemoryBlobStore()
  return {
    blobs,
    tamper: async (tenant, key, bytes) => void blobs.data.set(`${tenant}/${key}`, bytes),
    cleanup: async () => {},
  }
})

leasesConformance('filesystem', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'shiioo-leases-'))
  const a = openFsEventLog({ dataDir })
  const b = openFsEventLog({ dataDir })
  return {
    a: { leases: a.leases, log: a },
    b: { leases: b.leases, log: b },
    // the lease file is a hard link to a's identity: its mtime is a's heartbeat
    silenceA: (tenant, name) => {
      const past = (Date.now() - DEFAULT_LEASE_TTL_MS - 1000) / 1000
      utimesSync(join(tenantRoot(dataDir, tenant), 'leases', `${name}.lock`), past, past)
    },
    cleanup: async () => {
      await a.close()
      await b.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
})

leasesConformance('memory (testkit)', async () => {
  const table = new MemoryLeaseTable()
  const log = new MemoryEventLog()
  return {
    a: { leases: new MemoryLeases(table), log },
    b: { leases: new MemoryLeases(table), log },
    silenceA: (tenant, name) => table.silence(tenant, name),
    cleanup: async () => {},
  }
})

feedConformance('memory (testkit)', async () => {
  const log = new MemoryEventLog()
  return {
    log,
    reopen: async () => log,
    expire: async () => log.feed.expire(),
    loseTail: async () => (log.feed.loseTail(1), log),
    cleanup: async () => {},
    window: 16,
  }
})

/** The feed segments of a data dir: their starts and paths, oldest first. */
function feedSegments(dataDir: string) {
  return readdirSync(join(dataDir, 'feed'))
    .filter((n) => n.endsWith('.feed'))
    .sort()
    .map((n) => ({ start: parseInt(n, 16), path: join(dataDir, 'feed', n) }))
}

/** Where each commit record of a segment starts (magic, u16 length, u32 checksum, kind 1 = commit). */
function commitStarts(bytes: Buffer): number[] {
  const starts: number[] = []
  for (let p = bytes.indexOf(FEED_MAGIC); p >= 0 && p + 12 <= bytes.length; p = bytes.indexOf(FEED_MAGIC, p + 1)) {
    if (bytes[p + 10] === 1) starts.push(p)
  }
  return starts
}

const FEED_MAGIC = Buffer.from([0xf5, 0xee, 0xd0, 0x01])

feedConformance('filesystem', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'shiioo-feed-'))
  // small segments and retention, so that `expire` has little to write
  const open = () =>
    openFsEventLog({ dataDir, feedSegmentBytes: 4096, feedRetentionBytes: 8192, feedWindow: 16, lockIdleMs: 100 })
  const filler = new EventFactory()
  const fillerRun = filler.runId()
  const harness = {
    log: open() as EventLog,
    reopen: async () => {
      await harness.log.close()
      harness.log = open()
      return harness.log
    },
    expire: async () => {
      const segs = feedSegments(dataDir)
      const last = segs.at(-1)!
      const end = last.start + statSync(last.path).size
      while (feedSegments(dataDir)[0]!.start <= end) {
        await harness.log.append({
          tenant: FILLER_TENANT,
          stream: fillerRun,
          expectedVersion: 'any',
          events: Array.from({ length: 20 }, (_, i) => filler.stepStarted(`f${i}`)),
        })
      }
    },
    loseTail: async () => {
      await harness.log.close()
      // what a machine crash can leave: the feed without its last commit record (the journal was
      // checkpointed by the clean close, so nothing brings it back)
      const segs = feedSegments(dataDir)
      const withCommits = segs.filter((s) => commitStarts(readFileSync(s.path)).length > 0).at(-1)!
      const lastCommit = commitStarts(readFileSync(withCommits.path)).at(-1)
      if (lastCommit === undefined) throw new Error('no commit record to lose')
      truncateSync(withCommits.path, lastCommit)
      for (const s of segs) if (s.start > withCommits.start) rmSync(s.path)
      harness.log = open()
      return harness.log
    },
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
    window: 16,
  }
  return harness
})
