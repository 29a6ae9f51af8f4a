import type { BlobStore, Clock, EventLog, IndexStore, Leases, Logger, ProjectResult, Projector } from '@shiioo/core'
import { silentLogger } from '@shiioo/core'
import type { AgentRunner, ToolInvoker } from '@shiioo/engine'
import { Engine, toolInvoker } from '@shiioo/engine'
import type { CapacityConfig } from './capacity.js'
import { capacityAgents } from './capacity.js'
import { IndexFeed } from './index-feed.js'
import { createRunService } from './run/run-service.js'
import type { RunService } from './run/types.js'
import type { WorkflowService } from './workflow/workflow-service.js'
import { createWorkflowService } from './workflow/workflow-service.js'

export interface EngineSettings {
  /** Attempts executing at once across all runs. */
  maxConcurrency?: number
  /** Attempts of one run executing at once, unless its definition says fewer. */
  maxParallelPerRun?: number
}

/** The ports the orchestrator is composed from; the app picks the adapters. */
export interface OrchestratorConfig {
  log: EventLog
  blobs: BlobStore
  index: IndexStore
  /** Keeps `index` current with this process's appends; without it the index is maintained elsewhere. */
  projector?: Projector
  clock?: Clock
  logger?: Logger
  /** The LLM port (default: the engine's deterministic stand-in). */
  agents?: AgentRunner
  /** The tool port (default: the engine's built-in tools). */
  tools?: ToolInvoker
  engine?: EngineSettings
  /** Run ownership among processes sharing the stores (the app passes FsLeases on the data dir). */
  leases?: Leases
  /** LLM capacity sources and agent roles: agent steps then run on the pool (unless `agents` is given). */
  capacity?: CapacityConfig
}

export interface Orchestrator {
  runs: RunService
  workflows: WorkflowService
  /**
   * Brings the index up to date with the streams (once; queries do it on first use). Returns what
   * was folded in, or null without a projector.
   */
  catchUp(): Promise<ProjectResult | null>
  /**
   * Stops driving runs (in-flight attempts are aborted and resume on the next start) and finishes
   * projecting what was appended. The stores stay open: they are the caller's to close.
   */
  close(): Promise<void>
}

/** The composition root of the application services: the engine over the given stores, and the services on top. */
export function createOrchestrator(config: OrchestratorConfig): Orchestrator {
  const logger = config.logger ?? silentLogger
  const tools = config.tools ?? toolInvoker()
  const capacity =
    config.agents === undefined && config.capacity && config.capacity.sources.length > 0
      ? capacityAgents(config.capacity, tools, {
          ...(config.clock ? { clock: config.clock } : {}),
          logger: logger.child({ component: 'capacity' }),
        })
      : null
  const agents = config.agents ?? capacity?.agents
  const engine = new Engine({
    log: config.log,
    blobs: config.blobs,
    logger: logger.child({ component: 'engine' }),
    ...(config.clock ? { clock: config.clock } : {}),
    ...(agents ? { agents } : {}),
    tools,
    ...(config.leases ? { leases: config.leases } : {}),
    ...config.engine,
  })
  const feed = new IndexFeed(config.projector)
  const runs = createRunService({ engine, log: config.log, blobs: config.blobs, index: config.index, feed, logger })
  const workflows = createWorkflowService(engine)
  let closing: Promise<void> | null = null
  return {
    runs,
    workflows,
    catchUp: () => feed.catchUp(),
    close() {
      closing ??= (async () => {
        try {
          await engine.close()
          capacity?.pool.close()
        } finally {
          await feed.close()
        }
      })()
      return closing
    },
  }
}
