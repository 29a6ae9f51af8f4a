import { existsSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { ShiiooError, silentLogger, type Logger } from '@shiioo/core'
import * as schema from './schema.js'
import { SqliteIndexStore } from './sqlite-index-store.js'

/** The committed migrations: `<package>/drizzle`, a sibling of both `src/` and `dist/`. */
const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url))

export interface OpenSqliteIndexOptions {
  /** The database file, created with its directory if missing; `:memory:` for a throwaway index. */
  path: string
  logger?: Logger
}

/**
 * Opens (or creates) the index file and brings its schema up to date.
 *
 * WAL with synchronous=NORMAL: a crash may lose the last commits but never corrupts the file, and
 * the index is a projection that the checkpoints let the projector catch up from the event log.
 */
export function openSqliteIndex(options: OpenSqliteIndexOptions): SqliteIndexStore {
  const logger = (options.logger ?? silentLogger).child({ component: 'index-sqlite', path: options.path })
  if (!existsSync(join(MIGRATIONS, 'meta', '_journal.json'))) {
    throw new ShiiooError('INTERNAL', `the index migrations are missing from ${MIGRATIONS} (a broken install?)`)
  }
  const memory = options.path === ':memory:'
  let db: Database.Database | undefined
  try {
    if (!memory) mkdirSync(dirname(options.path), { recursive: true })
    db = new Database(options.path)
    // 16 KiB pages: run rows carry their steps, and bigger pages halve a rebuild's write time.
    // Takes effect only on a new, empty file (before WAL); an existing file keeps its size.
    db.pragma('page_size = 16384')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('busy_timeout = 5000')
    db.pragma('foreign_keys = ON')
    const orm = drizzle({ client: db, schema })
    migrate(orm, { migrationsFolder: MIGRATIONS })
    logger.debug('index opened')
    return new SqliteIndexStore(db, orm, logger)
  } catch (cause) {
    db?.close()
    throw openError(options.path, cause)
  }
}

function openError(path: string, cause: unknown): ShiiooError {
  if (cause instanceof ShiiooError) return cause
  const code = (cause as { code?: unknown } | null)?.code
  const message = cause instanceof Error ? cause.message : String(cause)
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new ShiiooError(
      'DATA_CORRUPTED',
      `the index at ${path} is not a readable SQLite database (${message}); ` +
        'it is rebuildable: move it aside and run `shiioo index rebuild`',
      { cause },
    )
  }
  return new ShiiooError('UNAVAILABLE', `cannot open the index at ${path}: ${message}`, { cause, retryable: false })
}
