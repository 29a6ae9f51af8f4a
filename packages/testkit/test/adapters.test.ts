import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { utimesSync } from 'node:fs'
import { DEFAULT_LEASE_TTL_MS, FsBlobStore, blobPath, openFsEventLog, tenantRoot } from '@shiioo/core'
import {
  blobStoreConformance,
  eventLogConformance,
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
