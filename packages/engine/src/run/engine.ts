import { randomInt } from 'node:crypto'
import type {
  Actor,
  BlobStore,
  Clock,
  EventLog,
  IdFactory,
  Json,
  LeaseGrant,
  Leases,
  Logger,
  NewEvent,
  RunId,
  TenantId,
} from '@shiioo/core'
import { DEFAULT_TENANT, ShiiooError, createIdFactory, silentLogger, systemClock, toShiiooError } from '@shiioo/core'
import { resolveRunInputs } from '../run-inputs.js'
import { DEFAULT_MAX_VALUE_BYTES } from '../value-limits.js'
import type { WorkflowDefinition } from '../schema.js'
import { formatValidationErrors } from '../validation-errors.js'
import { DefinitionStore } from './definitions.js'
import type { ChildRuns, DriverHost } from './host.js'
import { RunDriver } from './driver.js'
import { claimIdempotencyKey } from './idempotency.js'
import { externalizePayloads, resolvePayload, storePending } from './payloads.js'
import type { AgentRunner, ToolInvoker } from './ports.js'
import { Slots } from './slots.js'
import { StreamWatch } from './stream-watch.js'
import { standInAgent, toolInvoker } from './stand-ins.js'
import type { RunState } from './state.js'
import { foldRunState, isTerminal } from './state.js'
import { eventFactory, signalEvents } from './signals.js'
import type { ReplayReport } from './replay.js'
import { replayRun } from './replay.js'
import { idempotencyKey } from './plan.js'
import type { Signal } from './signals.js'

export interface EngineOptions {
  log: EventLog
  blobs: BlobStore
  clock?: Clock
  ids?: IdFactory
  logger?: Logger
  /** The LLM port; defaults to the deterministic stand-in. */
  agents?: AgentRunner
  /** The tool port; defaults to the built-in tools. */
  tools?: ToolInvoker
  /** Attempts executing at once across all runs (default 64). */
  maxConcurrency?: number
  /** Attempts of one run executing at once, unless its definition says fewer (default 16). */
  maxParallelPerRun?: number
  /** Payloads whose JSON is larger go to blobs (default 8 KiB). */
  inlineLimit?: number
  /**
   * While another process drives a run this engine waits for (`wait`), how often it checks that
   * the process still holds the run, to take it over when not (default 1000 ms). Its progress
   * arrives through the feed at once.
   */
  takeoverCheckMs?: number
  /**
   * Most events one commit of a run holds (default 1000): a fan-out or a burst of results that
   * would record more goes over several commits. At most the event log's limit per append (10,000
   * for the file log).
   */
  maxEventsPerCommit?: number
  /**
   * Largest value (an input or output) a run records, in bytes of JSON (default 64 MiB, the file
   * blob store's limit): a step whose output is larger fails, naming the limit.
   */
  maxValueBytes?: number
  random?: () => number
  /**
   * Exclusive driving among processes sharing the stores: a run is driven only by the process that
   * holds its lease, and its driver's appends carry the lease, so a driver that lost it (paused past
   * the TTL and taken over) cannot write. Others wait for the run (and take over if its holder is
   * gone). Without leases, a run started or resumed in two processes may be driven by both (safe,
   * but attempts may repeat).
   */
  leases?: Leases
}

export interface StartRunRequest {
  tenant?: TenantId
  /** A validated definition (validateWorkflow / parseWorkflow). */
  definition: WorkflowDefinition
  input?: Readonly<Record<string, unknown>>
  /** The same key with the same workflow and input returns the same run; with others it is refused. */
  idempotencyKey?: string
  actor?: Actor
  parent?: { runId: string; stepId?: string; item?: number }
  forkOf?: { runId: string; fromStep: string }
  /** Events appended with run.started, in the same commit (a fork's reused steps). */
  prefill?: (runId: RunId) => NewEvent[]
}

export interface ForkRequest {
  /** The step to execute again; it and everything after it runs anew, what comes before is reused. */
  fromStep: string
  actor?: Actor
}

export interface StartRunResult {
  runId: RunId
  workflowHash: string
  /** True when the idempotency key named a run that already existed. */
  duplicate: boolean
}

/**
 * The workflow engine: starts runs and drives them to their end, one driver per active run.
 * Everything it knows is in the log; `close()` and a `kill -9` lose nothing but in-memory work.
 */
export class Engine {
  readonly definitions: DefinitionStore
  private readonly drivers = new Map<string, RunDriver>()
  private readonly leases = new Map<string, LeaseGrant>()
  private readonly loading = new Map<string, Promise<RunDriver | null>>()
  private readonly host: DriverHost
  private readonly ids: IdFactory
  private readonly clock: Clock
  private readonly streams: StreamWatch
  private closed = false

  constructor(private readonly options: EngineOptions) {
    this.clock = options.clock ?? systemClock
    this.ids = options.ids ?? createIdFactory(() => this.clock.now())
    this.definitions = new DefinitionStore(options.blobs, options.log, this.ids, () => this.clock.now())
    const children: ChildRuns = {
      start: async (parent, launch, input) => {
        if (launch.body.kind !== 'subworkflow') throw new ShiiooError('INTERNAL', 'not a sub-workflow step')
        const compiled = await this.definitions.resolve(parent.tenant, launch.body.workflow, launch.body.workflowHash)
        const input_ = input !== null && typeof input === 'object' && !Array.isArray(input) ? input : {}
        const started = await this.start({
          tenant: parent.tenant,
          definition: compiled.definition,
          input: input_,
          idempotencyKey: launch.idempotencyKey,
          parent: {
            runId: parent.runId,
            stepId: launch.stepId,
            ...(launch.item === undefined ? {} : { item: launch.item }),
          },
        })
        return started.runId
      },
      wait: (parent, child, signal) => abortable(this.wait(parent.tenant, child as RunId), signal),
      cancel: (parent, child, reason) => this.cancel(parent.tenant, child as RunId, reason).then(() => undefined),
    }
    this.streams = new StreamWatch(options.log, options.logger ?? silentLogger)
    this.host = {
      log: options.log,
      blobs: options.blobs,
      clock: this.clock,
      logger: options.logger ?? silentLogger,
      newEventId: () => this.ids.eventId(),
      random: options.random ?? (() => randomInt(0, 2 ** 32) / 2 ** 32),
      slots: new Slots(options.maxConcurrency ?? 64),
      maxParallelPerRun: options.maxParallelPerRun ?? 16,
      inlineLimit: options.inlineLimit ?? 8192,
      streams: this.streams,
      maxEventsPerCommit: options.maxEventsPerCommit ?? 1000,
      maxValueBytes: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
      agents: options.agents ?? standInAgent(),
      tools: options.tools ?? toolInvoker(),
      children,
      onEnd: (driver, how) => {
        const key = `${driver.state.tenant}/${driver.runId}`
        if (this.drivers.get(key) === driver) this.drivers.delete(key)
        // a run that ended is never driven again: its lease's fencing record can go
        void this.releaseLease(key, how === 'ended')
      },
    }
  }

  /** Starts a run: returns once its run.started is durable; the run proceeds in the background. */
  async start(request: StartRunRequest): Promise<StartRunResult> {
    this.assertOpen()
    const tenant = request.tenant ?? DEFAULT_TENANT
    const resolved = resolveRunInputs(request.definition, request.input ?? {})
    if (!resolved.ok) {
      throw new ShiiooError('INVALID_INPUT', `bad run input:\n${formatValidationErrors(resolved.errors)}`, {
        details: { errors: resolved.errors },
      })
    }
    const hash = await this.definitions.put(tenant, request.definition)
    let runId = this.ids.runId()
    if (request.idempotencyKey !== undefined) {
      const claim = await claimIdempotencyKey(this.options.log, this.ids, this.clock, {
        tenant,
        key: request.idempotencyKey,
        runId,
        workflowHash: hash,
        input: resolved.inputs,
      })
      runId = claim.runId
      if (claim.existing && (await this.options.log.version({ tenant, stream: runId })) > 0) {
        return { runId, workflowHash: hash, duplicate: true }
      }
    }
    const make = eventFactory(this.ids, this.clock, request.actor)
    const data = {
      workflow: { name: request.definition.name, hash },
      input: { inline: resolved.inputs as Json },
      ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
      ...(request.parent ? { parent: request.parent } : {}),
      ...(request.forkOf ? { forkOf: request.forkOf } : {}),
    }
    const pending = new Map<string, Uint8Array>()
    externalizePayloads(data, this.host.inlineLimit, pending)
    await storePending(this.options.blobs, tenant, pending)
    const initial: NewEvent[] = [make('run.started', data), ...(request.prefill?.(runId) ?? [])]
    const compiled = await this.definitions.get(tenant, hash)
    const key = `${tenant}/${runId}`
    let lease = await this.takeLease(tenant, runId)
    while (lease === null) {
      // only a start with the same key can hold a brand-new run's lease: it is born there, unless
      // that starter is gone before its run.started was durable (then it is born here, once its
      // lease is taken over)
      if ((await this.options.log.version({ tenant, stream: runId })) > 0) {
        return { runId, workflowHash: hash, duplicate: true }
      }
      this.assertOpen()
      await new Promise<void>((resolve) =>
        this.clock.setTimer(this.clock.now() + (this.options.takeoverCheckMs ?? 1000), resolve),
      )
      lease = await this.takeLease(tenant, runId)
    }
    const driver = await RunDriver.create(this.host, initial, runId, tenant, compiled, lease)
    this.drivers.set(key, driver)
    driver.begin()
    try {
      await driver.born
    } catch (error) {
      if (this.drivers.get(key) === driver) this.drivers.delete(key)
      void this.releaseLease(key, false)
      // two starts with one key raced past the claim: the run exists, which is all either wanted
      if ((error as ShiiooError).code === 'CONFLICT' && request.idempotencyKey !== undefined) {
        return { runId, workflowHash: hash, duplicate: true }
      }
      throw error
    }
    return { runId, workflowHash: hash, duplicate: false }
  }

  /** Drives a run that is not yet driven here (a restart, or a run another process left). */
  async resume(tenant: TenantId, runId: RunId): Promise<RunState> {
    const driver = await this.drive(tenant, runId)
    return driver ? driver.state : await this.state(tenant, runId)
  }

  /**
   * Resolves with the run's final state, driving it here if no process is; while another process
   * drives it (holds its lease), follows its log, and takes over if that process dies.
   */
  async wait(tenant: TenantId, runId: RunId): Promise<RunState> {
    for (;;) {
      const driver = await this.drive(tenant, runId)
      // null: this engine stopped driving it (its lease was taken over): follow it like any other
      const ended = driver ? await driver.done : null
      if (ended) return ended
      // driven elsewhere; its first events may still be in its holder's journal (see loadDriver)
      const events = await this.options.log.read({ tenant, stream: runId })
      const state = events.length > 0 ? foldRunState(events) : null
      if (state && isTerminal(state.status)) return state
      this.assertOpen()
      await this.streams.advanced(tenant, runId, events.length, this.options.takeoverCheckMs ?? 1000)
    }
  }

  /** The live holder of the run's lease when that is not this engine (another process drives the run), else null. */
  async drivenElsewhere(tenant: TenantId, runId: RunId): Promise<{ pid: number; host: string } | null> {
    const key = `${tenant}/${runId}`
    if (this.drivers.has(key) || this.leases.has(key) || !this.options.leases) return null
    const holder = await this.options.leases.holder({ tenant, name: runId })
    return holder === null ? null : { pid: holder.pid, host: holder.host }
  }

  /** The run's state, as of its last event or as of `atSeq` (time travel). */
  async state(tenant: TenantId, runId: RunId, atSeq?: number): Promise<RunState> {
    const events = await this.options.log.read({
      tenant,
      stream: runId,
      ...(atSeq === undefined ? {} : { toSeq: atSeq }),
    })
    if (events.length === 0) throw new ShiiooError('NOT_FOUND', `no run ${runId} in tenant ${tenant}`)
    return foldRunState(events)
  }

  /** Records a signal (an approval decision, an external event, pause/resume/cancel) in the run's log. */
  async signal(tenant: TenantId, runId: RunId, signal: Signal, actor: Actor): Promise<RunState> {
    const driver = this.drivers.get(`${tenant}/${runId}`)
    if (driver) {
      await driver.submit((tx, state) => {
        for (const e of signalEvents(state, driver.compiled, signal, this.host.maxValueBytes))
          tx.emitAs(actor, e.type, e.data)
      })
      return driver.state
    }
    // Not driven here: append with the version we checked against; a concurrent writer makes us re-check.
    for (let tries = 0; ; tries++) {
      const state = await this.state(tenant, runId)
      const compiled = await this.definitions.get(tenant, state.workflow.hash)
      const make = eventFactory(this.ids, this.clock, actor)
      const events = signalEvents(state, compiled, signal, this.host.maxValueBytes).map((e) =>
        make(e.type, e.data as never),
      )
      const pending = new Map<string, Uint8Array>()
      for (const e of events) externalizePayloads(e.data, this.host.inlineLimit, pending)
      await storePending(this.options.blobs, tenant, pending)
      try {
        await this.options.log.append({ tenant, stream: runId, expectedVersion: state.version, events })
        return await this.state(tenant, runId)
      } catch (error) {
        if ((error as ShiiooError).code !== 'CONFLICT' || tries >= 20) throw error
      }
    }
  }

  /** Re-runs the scheduler over a finished run with its recorded outcomes; calls nothing. */
  async replay(tenant: TenantId, runId: RunId): Promise<ReplayReport> {
    const events = await this.options.log.read({ tenant, stream: runId })
    if (events.length === 0) throw new ShiiooError('NOT_FOUND', `no run ${runId} in tenant ${tenant}`)
    const state = foldRunState(events)
    return replayRun(events, await this.definitions.get(tenant, state.workflow.hash), this.options.blobs, {
      maxValueBytes: this.host.maxValueBytes,
    })
  }

  /**
   * Starts a new run of the same definition and input from a step of an old one: every step
   * completed in the old run that is neither the chosen step nor after it (a dependent, however
   * indirect) keeps its recorded output; the chosen step and the rest execute anew.
   */
  async fork(tenant: TenantId, runId: RunId, request: ForkRequest): Promise<StartRunResult> {
    const source = await this.state(tenant, runId)
    const compiled = await this.definitions.get(tenant, source.workflow.hash)
    if (!compiled.steps.has(request.fromStep)) {
      throw new ShiiooError(
        'INVALID_INPUT',
        `run ${runId} has no step "${request.fromStep}"; steps: ${compiled.order.join(', ')}`,
      )
    }
    const rerun = new Set([request.fromStep])
    for (const id of compiled.order) {
      if (compiled.steps.get(id)!.dependencies.some((d) => rerun.has(d))) rerun.add(id)
    }
    const input = await resolvePayload(this.options.blobs, tenant, source.input)
    const make = eventFactory(this.ids, this.clock, request.actor)
    return this.start({
      tenant,
      definition: compiled.definition,
      input: input !== null && typeof input === 'object' && !Array.isArray(input) ? input : {},
      forkOf: { runId, fromStep: request.fromStep },
      ...(request.actor ? { actor: request.actor } : {}),
      prefill: (newRunId) =>
        compiled.order.flatMap((id) => {
          const s = source.steps[id]
          if (rerun.has(id) || s?.status !== 'completed') return []
          const key = idempotencyKey(newRunId, id, undefined, s.attempt)
          return [
            make('step.started', { stepId: id, attempt: s.attempt, idempotencyKey: key }),
            make('step.completed', {
              stepId: id,
              attempt: s.attempt,
              ...(s.output ? { output: s.output } : {}),
              reusedFrom: runId,
            }),
          ]
        }),
    })
  }

  cancel(
    tenant: TenantId,
    runId: RunId,
    reason: string,
    actor: Actor = { kind: 'system', id: 'engine' },
  ): Promise<RunState> {
    return this.signal(tenant, runId, { kind: 'cancel', reason }, actor)
  }

  /** Whether this engine drives the run right now (holds its lease and has a driver for it). */
  drives(tenant: TenantId, runId: RunId): boolean {
    return this.drivers.has(`${tenant}/${runId}`)
  }

  /** Runs this engine drives right now. */
  get active(): number {
    return this.drivers.size
  }

  /** Stops driving (in-flight attempts are aborted, nothing is written); the runs resume on the next start. */
  async close(): Promise<void> {
    this.closed = true
    await Promise.allSettled([...this.loading.values()])
    await Promise.all([...this.drivers.values()].map((d) => d.close()))
    this.drivers.clear()
    this.streams.close()
    await Promise.all([...this.leases.keys()].map((key) => this.releaseLease(key, false)))
  }

  /**
   * Takes the run's lease: the grant (undefined without leases), or null while another holder
   * has it. A driver whose lease is lost stops at once (see RunDriver.leaseLost).
   */
  private async takeLease(tenant: TenantId, runId: RunId): Promise<LeaseGrant | undefined | null> {
    if (!this.options.leases) return undefined
    const key = `${tenant}/${runId}`
    const held = this.leases.get(key)
    if (held) return held
    const lease = await this.options.leases.acquire({
      tenant,
      name: runId,
      onLost: () => {
        this.options.logger?.warn('lost the lease on a run: another process drives it now', { runId, tenant })
        void this.drivers.get(key)?.leaseLost()
      },
    })
    if (!lease) return null
    if (this.closed) {
      await lease.release()
      this.assertOpen()
    }
    this.leases.set(key, lease)
    return lease
  }

  private releaseLease(key: string, retire: boolean): Promise<void> {
    const lease = this.leases.get(key)
    this.leases.delete(key)
    return (lease?.release({ retire }) ?? Promise.resolve()).catch((error: unknown) => {
      this.options.logger?.warn('could not release a run lease', { key, error: toShiiooError(error).message })
    })
  }

  private async drive(tenant: TenantId, runId: RunId): Promise<RunDriver | null> {
    const key = `${tenant}/${runId}`
    const existing = this.drivers.get(key)
    if (existing) return existing
    let loading = this.loading.get(key)
    if (!loading) {
      loading = this.loadDriver(tenant, runId).finally(() => this.loading.delete(key))
      this.loading.set(key, loading)
    }
    return loading
  }

  private async loadDriver(tenant: TenantId, runId: RunId): Promise<RunDriver | null> {
    this.assertOpen()
    const events = await this.options.log.read({ tenant, stream: runId })
    // an empty stream may be a run whose holder is gone with run.started still in its journal:
    // taking the lease replays that journal; only a run nobody holds and nothing holds is missing
    if (events.length === 0 && !this.options.leases) throw notFound(tenant, runId)
    if (events.length > 0 && isTerminal(foldRunState(events).status)) return null
    // another process drives it; re-read after taking the lease, it may have moved on meanwhile
    const lease = await this.takeLease(tenant, runId)
    if (lease === null) return null
    const fresh = await this.options.log.read({ tenant, stream: runId })
    if (fresh.length === 0) {
      await this.releaseLease(`${tenant}/${runId}`, true)
      throw notFound(tenant, runId)
    }
    const state = foldRunState(fresh)
    if (isTerminal(state.status)) {
      await this.releaseLease(`${tenant}/${runId}`, true)
      return null
    }
    let driver: RunDriver
    try {
      const compiled = await this.definitions.get(tenant, state.workflow.hash)
      driver = await RunDriver.load(this.host, fresh, compiled, lease)
    } catch (error) {
      await this.releaseLease(`${tenant}/${runId}`, false)
      throw error
    }
    this.drivers.set(`${tenant}/${runId}`, driver)
    driver.begin()
    return driver
  }

  private assertOpen(): void {
    if (this.closed) throw new ShiiooError('UNAVAILABLE', 'the engine is closed')
  }
}

function notFound(tenant: TenantId, runId: RunId): ShiiooError {
  return new ShiiooError('NOT_FOUND', `no run ${runId} in tenant ${tenant}`)
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e instanceof Error ? e : new Error(String(e)))
      },
    )
  })
}
