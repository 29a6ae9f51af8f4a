import { statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { BlobStore, EventLog, IndexStore, Logger } from '@shiioo/core'
import { FsBlobStore, Projector, ShiiooError, openFsEventLog } from '@shiioo/core'
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
  close(): Promise<void>
}

export interface IndexedStorage extends Storage {
  index: IndexStore
  projector: Projector
}

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
  const log = openFsEventLog({ dataDir: config.dataDir, logger: logger.child({ component: 'event-log' }) })
  const blobs = new FsBlobStore({ dataDir: config.dataDir })
  return { config, logger, log, blobs, close: () => log.close() }
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

function assertDataDir(dataDir: string): void {
  const hint = 'set --data-dir or SHIIOO_DATA_DIR'
  let isDir: boolean
  try {
    isDir = statSync(dataDir).isDirectory()
  } catch {
    throw new ShiiooError('NOT_FOUND', `data dir ${dataDir} does not exist (${hint})`)
  }
  if (!isDir) throw new ShiiooError('INVALID_INPUT', `data dir ${dataDir} is not a directory (${hint})`)
}
