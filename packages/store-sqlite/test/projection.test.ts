import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createFsStreamFolder, openFsEventLog } from '@shiioo/core'
import { projectionConformance } from '@shiioo/testkit'
import { openSqliteIndex } from '../src/index.js'

// The check: on 10k generated runs in the real filesystem log, the rebuilt SQLite index
// answers every query exactly as the live one does, rebuilt on one thread or with the worker folder.
projectionConformance(
  'filesystem log + SQLite index',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shiioo-projection-'))
    let n = 0
    return {
      log: openFsEventLog({ dataDir: join(dir, 'data') }),
      newIndex: async () => openSqliteIndex({ path: join(dir, `index-${n++}.sqlite`) }),
      newFolder: () => createFsStreamFolder({ dataDir: join(dir, 'data') }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    }
  },
  { runs: 10_000 },
)
