import type { BlobStore, Clock, ControlProjection, EventLog, IndexStore, Leases, Logger, Projector } from '@shiioo/core'
import { AuditTrail, DEFAULT_TENANT, createIdFactory, silentLogger, systemClock } from '@shiioo/core'
import type { AgentRunner, ToolInvoker, ToolSpecs } from '@shiioo/engine'
import type { ToolCatalog, ToolSource } from '@shiioo/mcp'
import { builtinToolSource, createToolCatalog, shiiooToolSource } from '@shiioo/mcp'
import { Engine, standInAgent, workflowsProjection } from '@shiioo/engine'
import type { CallerContext, Gate } from './caller.js'
import { admit } from './caller.js'
import type { AuditService } from './audit/audit-service.js'
import { createAuditService } from './audit/audit-service.js'
import { createDoor } from './audit/door.js'
import type { ApprovalService } from './approvals/approval-service.js'
import { createApprovalService } from './approvals/approval-service.js'
import type { CapacityConfig } from './capacity.js'
import { capacityAgents } from './capacity.js'
import type { DataDirPort, DataService } from './data-dir/data-service.js'
import { createDataService } from './data-dir/data-service.js'
import { IdentityDirectory } from './identity/directory.js'
import type { IdentityService } from './identity/identity-service.js'
import { createIdentityService } from './identity/identity-service.js'
import { IndexFeed } from './index-feed.js'
import type { CapacityService } from './capacity-read/capacity-service.js'
import { createCapacityService } from './capacity-read/capacity-service.js'
import type { MetricsService } from './metrics/metrics-service.js'
import { createMetricsService } from './metrics/metrics-service.js'
import type { LiveService } from './live/live-service.js'
import { createLiveService } from './live/live-service.js'
import { AgentTextChannel, streamingAgents } from './live/agent-text.js'
import { permits, toolCallerOf, workflowCaller } from './tools/callers.js'
import { shiiooToolPort } from './tools/shiioo-port.js'
import type { ToolService } from './tools/tool-service.js'
import { catalogToolInvoker, createToolService } from './tools/tool-service.js'
import { createRunService } from './run/run-service.js'
import type { RunService } from './run/types.js'
import type { Supervisor, SupervisorOptions } from './supervisor.js'
import { startSupervisor } from './supervisor.js'
import type { WorkflowService } from './workflow/workflow-service.js'
import { createWorkflowService } from './workflow/workflow-service.js'

export interface EngineSettings {
  /** Attempts executing at once across all runs. */
  maxConcurrency?: number
  /** Attempts of one run executing at once, unless its definition says fewer. */
  maxParallelPerRun?: number
}

/**
 * The read models of control streams the services query from the index: the app gives them to
 * the projector it composes (a feature module adds its own here).
 */
export const CONTROL_PROJECTIONS: readonly ControlProjection[] = [workflowsProjection]

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
  /**
   * Where tools come from (the app builds them from its configuration: the built-ins, external
   * MCP servers). Default: the built-in tools with their default limits. They make one catalog,
   * which agent steps, tool steps and `tools` callers (MCP clients) share.
   */
  toolSources?: readonly ToolSource[]
  /** A tool port that replaces the catalog for workflows (tests); `tools` callers still get the catalog. */
  tools?: ToolInvoker
  engine?: EngineSettings
  /** Run ownership among processes sharing the stores (the app passes FsLeases on the data dir). */
  leases?: Leases
  /** LLM capacity sources and agent roles: agent steps then run on the pool (unless `agents` is given). */
  capacity?: CapacityConfig
  /** Maintenance that needs the data dir to itself (`data.rebuildIndex`); without it, that refuses. */
  dataDir?: DataDirPort
  /**
   * The gate every service call passes (default `admit`); tests inject a recording or refusing one.
   * What it refuses, and the outcome of every call that changes something, is audited.
   */
  gate?: Gate
}

export interface Orchestrator {
  runs: RunService
  workflows: WorkflowService
  data: DataService
  /** The tenant's audit chain: list, verify, export. */
  audit: AuditService
  /** Principals and API tokens; `authenticate` turns an edge's bearer token into a caller. */
  identity: IdentityService
  /** Approval steps waiting for a decision across the tenant's runs. */
  approvals: ApprovalService
  /** The LLM capacity sources and pool, read only. */
  capacity: CapacityService
  /** Totals and live observations for a metrics endpoint. */
  metrics: MetricsService
  /** Live events of the caller's tenant (one run, its runs, its audit chain), resumable from a feed position. */
  live: LiveService
  /** The tool catalog: what MCP clients list and call (each call admitted and audited). */
  tools: ToolService
  /**
   * Starts the long-running duties of a serving process: catches the index up (resolves once it
   * has), then takes over unfinished runs no live process drives, at once and every `scanMs`.
   */
  supervise(caller: CallerContext, options: SupervisorOptions): Promise<Supervisor>
  /**
   * Stops the supervisor and driving runs (in-flight attempts are aborted and resume on the next
   * start) and finishes projecting what was appended. The stores stay open: they are the caller's to close.
   */
  close(): Promise<void>
}

/** The composition root of the application services: the engine over the given stores, and the services on top. */
export function createOrchestrator(config: OrchestratorConfig): Orchestrator {
  const logger = config.logger ?? silentLogger
  const clock = config.clock ?? systemClock
  const ids = createIdFactory(() => clock.now())
  const trail = new AuditTrail({ log: config.log, eventId: () => ids.eventId() })
  const door = createDoor({
    gate: config.gate ?? admit,
    trail,
    clock,
    logger: logger.child({ component: 'audit' }),
  })
  // one catalog for agent steps, tool steps and MCP clients, made when first needed (a command that
  // calls no tool starts no external server); a source that cannot start fails what needed it, and
  // `tools.ready()`, which a server awaits at start
  let made: Promise<ToolCatalog> | null = null
  const catalog = () =>
    (made ??= createToolCatalog({
      sources: [
        ...(config.toolSources ?? [builtinToolSource()]),
        // Shiioo's own tools call the services below as the tool's caller (made by the time a tool is used)
        shiiooToolSource(shiiooToolPort({ runs, workflows, approvals })),
      ],
      permits,
    }))
  const tools = config.tools ?? catalogToolInvoker({ catalog, door })
  const toolSpecs = async () => {
    const specs: Record<string, ToolSpecs[string]> = {}
    // what an agent may be offered: the tools a workflow's calls are granted
    const agent = toolCallerOf(workflowCaller(DEFAULT_TENANT, 'run', 'step'))
    for (const t of (await catalog()).list(agent)) {
      specs[t.name] = { description: t.description, inputSchema: t.inputSchema }
    }
    return specs
  }
  const capacity =
    config.agents === undefined && config.capacity && config.capacity.sources.length > 0
      ? capacityAgents(config.capacity, tools, {
          toolSpecs,
          ...(config.clock ? { clock: config.clock } : {}),
          logger: logger.child({ component: 'capacity' }),
        })
      : null
  // agents' text reaches live subscribers as the model produces it
  const text = new AgentTextChannel()
  const agents = streamingAgents(config.agents ?? capacity?.agents ?? standInAgent(), text)
  const engine = new Engine({
    log: config.log,
    blobs: config.blobs,
    logger: logger.child({ component: 'engine' }),
    ...(config.clock ? { clock: config.clock } : {}),
    agents,
    tools,
    ...(config.leases ? { leases: config.leases } : {}),
    ...config.engine,
  })
  const feed = new IndexFeed(config.projector)
  const runs = createRunService({
    engine,
    log: config.log,
    blobs: config.blobs,
    index: config.index,
    feed,
    logger,
    door,
  })
  const workflows = createWorkflowService({
    engine,
    door,
    index: config.index,
    feed,
    indexed: config.projector?.projects(workflowsProjection.name) ?? false,
  })
  const data = createDataService({
    log: config.log,
    blobs: config.blobs,
    projector: config.projector,
    dataDir: config.dataDir,
    door,
  })
  const directory = new IdentityDirectory({ log: config.log, logger: logger.child({ component: 'identity' }) })
  const capacityService = createCapacityService({
    door,
    index: config.index,
    feed,
    config: config.capacity,
    pool: capacity?.pool ?? null,
  })
  const approvals = createApprovalService({ log: config.log, index: config.index, feed, door })
  const supervisors = new Set<Supervisor>()
  let closing: Promise<void> | null = null
  return {
    runs,
    workflows,
    data,
    audit: createAuditService({ door, trail }),
    identity: createIdentityService({ door, directory, clock }),
    approvals,
    capacity: capacityService,
    metrics: createMetricsService({ log: config.log, index: config.index, feed, door, capacity: capacityService }),
    live: createLiveService({ log: config.log, door, text }),
    tools: createToolService({ catalog, door }),
    supervise: (caller, options) =>
      door.change(
        caller,
        'supervisor.start',
        { kind: 'data-dir' },
        async () => {
          const supervisor = await startSupervisor(
            { feed, runs, clock, logger: logger.child({ component: 'supervisor' }) },
            caller,
            options,
          )
          supervisors.add(supervisor)
          return supervisor
        },
        { details: { scanMs: options.scanMs } },
      ),
    close() {
      closing ??= (async () => {
        try {
          await Promise.all([...supervisors].map((s) => s.stop()))
          await directory.close()
          await engine.close()
          capacity?.pool.close()
          await made?.then((c) => c.close()).catch(() => undefined)
        } finally {
          await feed.close()
        }
      })()
      return closing
    },
  }
}
