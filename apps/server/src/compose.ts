import { statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { BlobStore, EventLog, IndexStore, Leases, Logger, StreamFolder } from '@shiioo/core'
import {
  FsBlobStore,
  Projector,
  ShiiooError,
  createFsStreamFolder,
  openFsEventLog,
  openWriters,
} from '@shiioo/core'
import type { Orchestrator } from '@shiioo/orchestrator'
import { createOrchestrator } from '@shiioo/orchestrator'
import { openSqliteIndex } from '@shiioo/store-sqlite'
import type { Config } from './config/index.js'
import { createLogger } from './logger.js'

/**
 * The composition root: the only place that picks concrete adapters. Commands take the parts
 * they need; each `close()` releases what its `open` took, most dependent first.
 */
export interface Storage {
  config: Config
  logger: Logger
  log: EventLog
  blobs: BlobStore
  /** Leases on the data dir, held under the event log's heartbeat (appends check them). */
  leases: Leases
  close(): Promise<void>
}

export interface IndexedStorage extends Storage {
  index: IndexStore
  projector: Projector
}

const STREAM_LOCK_IDLE_MS = 250

export function indexFile(dataDir: string): string {
  return join(dataDir, 'index.sqlite')
}

/**
 * `create`: a server makes its data dir on first start. Commands that inspect existing data
 * refuse a missing one, so a mistyped `--data-dir` is not reported as an empty, healthy store.
 */
export async function openStorage(config: Config, options: { create: boolean }): Promise<Storage> {
  if (options.create) await mkdir(config.dataDir, { recursive: true })
  else assertDataDir(config.dataDir)
  const logger = createLogger(config.logLevel)
  const log = openFsEventLog({
    dataDir: config.dataDir,
    logger: logger.child({ component: 'event-log' }),
    // Other processes write the streams this one drives (`shiioo decide`, `runs cancel` while `shiioo
    // run` or the server waits): hand an idle stream's lock back soon, so they wait well under a second.
    lockIdleMs: STREAM_LOCK_IDLE_MS,
    leaseTtlMs: config.leaseTtlMs,
  })
  const blobs = new FsBlobStore({ dataDir: config.dataDir })
  return { config, logger, log, blobs, leases: log.leases, close: () => log.close() }
}

export async function openIndexedStorage(config: Config, options: { create: boolean }): Promise<IndexedStorage> {
  const storage = await openStorage(config, options)
  try {
    const index = openSqliteIndex({ path: indexFile(config.dataDir), logger: storage.logger })
    const projector = new Projector({
      log: storage.log,
      index,
      logger: storage.logger.child({ component: 'projector' }),
    })
    const close = async () => {
      try {
        await index.close()
      } finally {
        await storage.close()
      }
    }
    return { ...storage, index, projector, close }
  } catch (err) {
    await storage.close()
    throw err
  }
}

/**
 * Refuses when another process has the data dir's event log open (the server, a `shiioo run`):
 * for commands that need it to themselves, such as `shiioo index rebuild`.
 */
export function assertDataDirIdle(config: Config, command: string): void {
  const writers = openWriters(config.dataDir)
  if (writers.length === 0) return
  const who = writers.map((w) => `process ${w.pid} on ${w.host}`).join(', ')
  throw new ShiiooError(
    'CONFLICT',
    `the data dir ${config.dataDir} is in use by ${who}; stop it (the server, or a running \`shiioo run\`) and run \`${command}\` again`,
  )
}

/** Folds streams on a worker thread during `shiioo index rebuild` (the server is stopped then). */
export function openRebuildFolder(config: Config): StreamFolder {
  return createFsStreamFolder({ dataDir: config.dataDir })
}

export interface Composed extends IndexedStorage {
  orchestrator: Orchestrator
}

/**
 * The application: the orchestrator over the data dir's stores. `close()` stops it (runs it
 * drives resume on the next start) and then closes the stores.
 */
export async function openOrchestrator(config: Config, options: { create: boolean }): Promise<Composed> {
  const storage = await openIndexedStorage(config, options)
  const orchestrator = createOrchestrator({
    log: storage.log,
    blobs: storage.blobs,
    index: storage.index,
    projector: storage.projector,
    logger: storage.logger,
    engine: config.engine,
    leases: storage.leases,
    ...(config.capacity ? { capacity: config.capacity } : {}),
  })
  const close = async () => {
    try {
      await orchestrator.close()
    } finally {
      await storage.close()
    }
  }
  return { ...storage, orchestrator, close }
}

function assertDataDir(dataDir: string): void {
  const hint = 'set --data-dir or SHIIOO_DATA_DIR'
  let isDir: boolean
  try {
    isDir = statSync(dataDir).isDirectory()
  } catch {
    throw new ShiiooError('INVALID_INPUT', `data dir ${dataDir} does not exist (${hint})`)
  }
  if (!isDir) throw new ShiiooError('INVALID_INPUT', `data dir ${dataDir} is not a directory (${hint})`)
}
