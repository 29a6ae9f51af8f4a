import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FsBlobStore, blobPath, openFsEventLog } from '@shiioo/core'
import { blobStoreConformance, eventLogConformance, MemoryBlobStore, MemoryEventLog } from '../src/index.js'

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
