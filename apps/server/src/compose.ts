import { statSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import {
  FsBlobStore,
  FsCapacityLedger,
  Projector,
  ShiiooError,
  createFsStreamFolder,
  openFsEventLog,
  openWriters,
  toShiiooError,
} from '@shiioo/core'
import type { Logger } from '@shiioo/core'
import type { CapacityConfig, DataDirPort, Orchestrator } from '@shiioo/orchestrator'
import { CONTROL_PROJECTIONS, createOrchestrator } from '@shiioo/orchestrator'
import type { ToolSource } from '@shiioo/mcp'
import { builtinToolSource, externalMcpSource } from '@shiioo/mcp'
import { openSqliteIndex } from '@shiioo/store-sqlite'
import type { AppCapacityConfig, Config } from './config/index.js'
import { ConfigError } from './config/index.js'
import { LazyIndex } from './lazy-index.js'
import { createLogger } from './logger.js'

const STREAM_LOCK_IDLE_MS = 250

function indexFile(dataDir: string): string {
  return join(dataDir, 'index.sqlite')
}

/**
 * Refuses when another process has the data dir's event log open (the server, a `shiioo run`):
 * for commands that need it to themselves, such as `shiioo index rebuild`.
 */
function assertDataDirIdle(config: Config, command: string): void {
  const writers = openWriters(config.dataDir)
  if (writers.length === 0) return
  const who = writers.map((w) => `process ${w.pid} on ${w.host}`).join(', ')
  throw new ShiiooError(
    'CONFLICT',
    `the data dir ${config.dataDir} is in use by ${who}; stop it (the server, or a running \`shiioo run\`) and run \`${command}\` again`,
  )
}

/** What a command gets: the orchestrator (never the raw stores), its settings and the process's logger. */
export interface Composed {
  config: Config
  logger: Logger
  orchestrator: Orchestrator
  close(): Promise<void>
}

export interface OpenOptions {
  /**
   * A server makes its data dir on first start. Commands that inspect existing data refuse a
   * missing one, so a mistyped `--data-dir` is not reported as an empty, healthy store.
   */
  create: boolean
  /**
   * Open the index on first use, not at once: for commands that may never query it (`events`,
   * `verify`) or that rebuild it (`index rebuild`), so a damaged index file does not stop them.
   */
  indexOnDemand?: boolean
  /**
   * The command only reads the streams (`events`, `runs list`, `verify`, ...): the event log opens
   * no journal of its own and refuses appends, so the data dir's journal files are left as they are
   * (the index, a cache of the streams, is still brought up to date when the command queries it).
   */
  readOnly?: boolean
}

/**
 * The capacity the orchestrator runs: with shared limits, the sources' rate windows live in
 * `<data dir>/capacity/`, so `shiioo serve`, `shiioo run` and any other process on the data dir
 * stay within each vendor's limits together.
 */
function capacityOf(config: AppCapacityConfig, dataDir: string): CapacityConfig {
  const { shareLimits, ...capacity } = config
  return shareLimits ? { ...capacity, ledger: new FsCapacityLedger(join(dataDir, 'capacity')) } : capacity
}

/**
 * The composition root: the only place that picks concrete adapters. The application is the
 * orchestrator over the data dir's stores; `close()` stops it (runs it drives resume on the next
 * start) and then closes the stores, most dependent first.
 */
export async function openOrchestrator(config: Config, options: OpenOptions): Promise<Composed> {
  if (options.create) await makeDataDir(config.dataDir)
  else assertDataDir(config.dataDir)
  const logger = createLogger(config.logLevel)
  const log = openFsEventLog({
    dataDir: config.dataDir,
    logger: logger.child({ component: 'event-log' }),
    // Other processes write the streams this one drives (`shiioo decide`, `runs cancel` while `shiioo
    // run` or the server waits): hand an idle stream's lock back soon, so they wait well under a second.
    lockIdleMs: STREAM_LOCK_IDLE_MS,
    leaseTtlMs: config.leaseTtlMs,
    ...(options.readOnly ? { readOnly: true } : {}),
  })
  const file = indexFile(config.dataDir)
  const index = new LazyIndex(
    () => openSqliteIndex({ path: file, logger }),
    // the index file and SQLite's side files: the streams are the truth, these are disposable
    async () => {
      await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => rm(file + suffix, { force: true })))
    },
  )
  const closeStores = async () => {
    try {
      await index.close()
    } finally {
      await log.close()
    }
  }
  try {
    if (!options.indexOnDemand) index.openNow()
    const dataDir: DataDirPort = {
      assertExclusive: () => assertDataDirIdle(config, 'shiioo index rebuild'),
      discardIndex: () => index.discard(),
      // folds streams on a worker thread during a rebuild (no process appends then)
      openFolder: () => createFsStreamFolder({ dataDir: config.dataDir }),
    }
    const orchestrator = createOrchestrator({
      log,
      blobs: new FsBlobStore({ dataDir: config.dataDir }),
      index,
      projector: new Projector({
        log,
        index,
        projections: CONTROL_PROJECTIONS,
        logger: logger.child({ component: 'projector' }),
      }),
      logger,
      engine: config.engine,
      // held under the event log's heartbeat: the log checks them on every append
      leases: log.leases,
      dataDir,
      ...(config.capacity ? { capacity: capacityOf(config.capacity, config.dataDir) } : {}),
      toolSources: toolSourcesOf(config, logger),
    })
    const close = async () => {
      try {
        await orchestrator.close()
      } finally {
        await closeStores()
      }
    }
    return { config, logger, orchestrator, close }
  } catch (err) {
    await closeStores()
    throw err
  }
}

/**
 * Starts the tool catalog's sources now (each `[[mcp.servers]]` entry is spawned or connected and
 * listed), for a process that serves tools (`shiioo serve`, `shiioo-mcp`), so problems show at
 * start rather than at the first call. What makes the catalog unusable (two sources offering one
 * name, a bad built-in setting) stops start-up as a configuration error naming it (exit 2). A
 * server that could not start does not: its tools are UNAVAILABLE, and tried again on a later call;
 * each is logged as a warning and returned, for the process to say so.
 */
export async function toolsReady(
  composed: Pick<Composed, 'config' | 'orchestrator' | 'logger'>,
): Promise<Array<{ source: string; error: string }>> {
  let ready: { unavailable: Array<{ source: string; error: string }> }
  try {
    ready = await composed.orchestrator.tools.ready()
  } catch (err) {
    const file = composed.config.configFile ?? 'shiioo.toml'
    throw new ConfigError([
      `tools: ${toShiiooError(err).message} (fix the [[mcp.servers]] or [tools] entries in ${file})`,
    ])
  }
  for (const { source, error } of ready.unavailable) {
    composed.logger.warn('a tool source could not start: its tools are unavailable until it does', { source, error })
  }
  return ready.unavailable
}

/**
 * The tool catalog's sources: the built-in tools with their configured limits, and each external
 * MCP server under its prefix (started when the catalog is first needed).
 */
function toolSourcesOf(config: Config, logger: Logger): ToolSource[] {
  const { http, files, mcpServers } = config.tools
  return [
    builtinToolSource({ http, files }),
    ...mcpServers.map((s) =>
      externalMcpSource({
        prefix: s.prefix,
        transport: s.transport,
        ...(s.timeoutMs === undefined ? {} : { timeoutMs: s.timeoutMs }),
        logger: logger.child({ component: 'mcp-client', server: s.prefix }),
      }),
    ),
  ]
}

/** Makes the data dir (a server's first start, `shiioo run`); a path that cannot be one is bad input, naming why. */
async function makeDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const hint = 'set --data-dir or SHIIOO_DATA_DIR'
    if (code === 'EEXIST')
      throw new ShiiooError('INVALID_INPUT', `data dir ${dataDir} is a file, not a directory (${hint})`)
    if (code === 'ENOTDIR') {
      throw new ShiiooError(
        'INVALID_INPUT',
        `data dir ${dataDir} cannot be made: a part of its path is a file, not a directory (${hint})`,
      )
    }
    const why = toShiiooError(err)
    throw new ShiiooError(why.code, `data dir ${dataDir} cannot be made: ${why.message} (${hint})`, {
      retryable: why.retryable,
      cause: err,
    })
  }
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
