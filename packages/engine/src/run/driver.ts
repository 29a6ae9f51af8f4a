import type {
  Actor,
  BlobStore,
  Clock,
  EventData,
  EventId,
  EventLog,
  EventType,
  Json,
  Logger,
  NewEvent,
  StoredEvent,
} from '@shiioo/core'
import { ShiiooError, newEvent, toShiiooError } from '@shiioo/core'
import type { CompiledWorkflow } from '../compile.js'
import { STEP_ERROR_CODES, errorInfo, retryDecision, toErrorInfo } from './failures.js'
import type { PendingBlobs } from './payloads.js'
import { externalizePayloads, resolvePayload, storePending } from './payloads.js'
import type { Body, Launch, PlanResult, Tx } from './plan.js'
import { plan } from './plan.js'
import type { AgentRunner, AgentTurn, AttemptContext, ToolInvoker } from './ports.js'
import type { Slots } from './slots.js'
import type { RunState } from './state.js'
import { applyRunEvent, foldRunState, isTerminal, unitState } from './state.js'
import { RunValues } from './values.js'

export const ENGINE_ACTOR: Actor = { kind: 'system', id: 'engine' }

/** How a parent step starts and awaits its child run; the engine implements it. */
export interface ChildRuns {
  start(parent: RunState, launch: Launch, input: Json): Promise<string>
  /** Resolves with the child's final state. */
  wait(parent: RunState, childRunId: string, signal: AbortSignal): Promise<RunState>
  cancel(parent: RunState, childRunId: string, reason: string): Promise<void>
}

/** What a driver needs from the engine around it. */
export interface DriverHost {
  log: EventLog
  blobs: BlobStore
  clock: Clock
  logger: Logger
  newEventId(): EventId
  random: () => number
  slots: Slots
  /** Most units of one run executing at once, unless the definition says fewer. */
  maxParallelPerRun: number
  /** Payloads up to this many bytes of JSON stay inline in events. */
  inlineLimit: number
  /** How often a run waiting for a signal looks for events other processes appended. */
  pollMs: number
  agents: AgentRunner
  tools: ToolInvoker
  children: ChildRuns
  onEnd(driver: RunDriver): void
}

interface Submission {
  make(tx: Tx, state: RunState): void
  resolve?: () => void
  reject?: (error: unknown) => void
}

export interface ActorTx extends Tx {
  emitAs<T extends EventType>(actor: Actor, type: T, data: EventData<T>): void
}

/**
 * Drives one run: folds its log, asks the scheduler what to do, appends the decisions in one
 * commit (group commit per run: results that arrive during a commit share the next), and
 * performs the attempts the commit started. Nothing is done before its event is durable, and
 * everything it knows can be rebuilt from the log.
 */
export class RunDriver {
  readonly done: Promise<RunState>
  private resolveDone!: (state: RunState) => void
  private readonly outbox: Submission[] = []
  private pumping = false
  private pumped: Promise<void> = Promise.resolve()
  private again = false
  private catchUpWanted = false
  private readonly inflight = new Map<string, { attempt: number; controller: AbortController }>()
  private wakeTimer: { at: number; cancel: () => void } | null = null
  private pollTimer: (() => void) | null = null
  private closed = false
  /** Events folded into the state but not yet appended: a new run's run.started. */
  private unsent: NewEvent[] = []
  private readonly birth = deferred()

  private constructor(
    private readonly host: DriverHost,
    public state: RunState,
    readonly compiled: CompiledWorkflow,
    private values: RunValues,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve))
    void this.done.then(() => undefined)
  }

  static async load(host: DriverHost, events: readonly StoredEvent[], compiled: CompiledWorkflow): Promise<RunDriver> {
    const state = foldRunState(events)
    const values = await loadValues(host.blobs, state, events)
    return new RunDriver(host, state, compiled, values)
  }

  /**
   * A driver for a run that does not exist yet: `initial` (run.started, and a fork's reused steps)
   * is appended together with the first decisions, in one commit at expected version 0.
   * `born` settles with that commit; a run that fails to be born is not driven.
   */
  static async create(
    host: DriverHost,
    initial: readonly NewEvent[],
    runId: string,
    tenant: RunState['tenant'],
    compiled: CompiledWorkflow,
  ): Promise<RunDriver> {
    const stored = initial.map((e, i) => ({ ...e, stream: runId, seq: i + 1, tenant }) as StoredEvent)
    const driver = await RunDriver.load(host, stored, compiled)
    driver.unsent = [...initial]
    return driver
  }

  /** Settles when the run's first commit is durable (or failed). */
  get born(): Promise<void> {
    return this.birth.promise
  }

  get runId(): string {
    return this.state.runId
  }

  /** Re-performs attempts that were in flight when the log was read, then schedules. */
  begin(): void {
    if (!isTerminal(this.state.status)) {
      for (const [stepId, s] of Object.entries(this.state.steps)) {
        const body = this.compiled.steps.get(stepId)?.step
        if (!body) continue
        const units =
          body.kind === 'foreach'
            ? (s.items ?? []).map((u, i) => [u, i, body.step] as const)
            : [[s, undefined, body] as const]
        for (const [u, item, b] of units) {
          if (b.kind !== 'agent' && b.kind !== 'tool' && b.kind !== 'subworkflow') continue
          if (u.status !== 'running' && !(u.status === 'waiting' && u.wait?.for === 'child')) continue
          this.host.slots.force()
          this.launch(
            { stepId, item, attempt: u.attempt, idempotencyKey: u.idempotencyKey ?? '', body: b, input: null },
            u.wait?.childRunId ?? undefined,
            u.input,
          )
        }
      }
    }
    this.kick()
  }

  kick(): void {
    this.again = true
    if (this.pumping) return
    this.pumping = true
    void this.pump()
  }

  /** Appends events made outside the scheduler (signals, pause, cancel) in the driver's commit order. */
  submit(make: (tx: ActorTx, state: RunState) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.outbox.push({ make: make, resolve, reject })
      this.kick()
    })
  }

  /** Stops driving without writing anything (the process is shutting down): in-flight attempts are aborted. */
  async close(): Promise<void> {
    this.closed = true
    this.clearTimers()
    for (const f of this.inflight.values()) f.controller.abort(new ShiiooError('UNAVAILABLE', 'the engine is closing'))
    await this.pumped
  }

  private pump(): Promise<void> {
    this.pumped = this.loop()
    return this.pumped
  }

  private async loop(): Promise<void> {
    try {
      while (this.again && !this.closed && !isTerminal(this.state.status)) {
        this.again = false
        try {
          await this.step()
        } catch (error) {
          if (this.closed) return
          await this.recover(error)
        }
      }
    } finally {
      // in the same turn as the last check of `again`, so a kick right after starts a new loop
      this.pumping = false
    }
  }

  private async recover(error: unknown): Promise<void> {
    const e = toShiiooError(error)
    this.host.logger.warn('run step failed; reloading the run from its log', { runId: this.runId, error: e.message })
    await this.reload().catch((reloadError: unknown) => {
      this.host.logger.error('cannot reload run', { runId: this.runId, error: toShiiooError(reloadError).message })
    })
    if (e.code !== 'CONFLICT')
      await new Promise((r) => this.host.clock.setTimer(this.host.clock.now() + 200, () => r(null)))
    this.again = true
  }

  private async step(): Promise<void> {
    if (this.closed) return
    if (this.catchUpWanted) await this.catchUp()
    const now = this.host.clock.now()
    const base = this.state.version - this.unsent.length
    const events: NewEvent[] = [...this.unsent]
    const blobs: PendingBlobs = new Map()
    const stamp = new Date(now).toISOString()
    const emitAs = <T extends EventType>(actor: Actor, type: T, data: EventData<T>) => {
      const payload = type === 'event.received' ? (data as EventData<'event.received'>).payload : undefined
      const eventValue = payload !== undefined && 'inline' in payload ? payload.inline : null
      // prompts and responses are kept apart from the log whatever their size (they may be sensitive)
      externalizePayloads(data, type === 'agent.turn' ? 0 : this.host.inlineLimit, blobs)
      const e = newEvent(type, data, { id: this.host.newEventId(), at: stamp, actor })
      applyRunEvent(this.state, {
        ...e,
        stream: this.state.runId,
        seq: this.state.version + 1,
        tenant: this.state.tenant,
      } as StoredEvent)
      events.push(e as NewEvent)
      if (type === 'event.received') this.values.setEvent(this.state.version, eventValue)
    }
    const tx: ActorTx = { emit: (type, data) => emitAs(ENGINE_ACTOR, type, data), emitAs }
    const batch = this.outbox.splice(0)
    const accepted: Submission[] = []
    for (const s of batch) {
      try {
        s.make(tx, this.state)
        accepted.push(s)
      } catch (error) {
        s.reject?.(error)
      }
    }
    let result: PlanResult = { launches: [], wakeAt: null, starved: false }
    if (!isTerminal(this.state.status)) {
      result = plan(
        this.state,
        {
          compiled: this.compiled,
          values: this.values,
          now,
          maxParallel: this.compiled.definition.limits?.maxParallel ?? this.host.maxParallelPerRun,
          takeSlot: () => this.host.slots.take(),
          random: this.host.random,
        },
        tx,
      )
    }
    if (events.length > 0) {
      try {
        await storePending(this.host.blobs, this.state.tenant, blobs)
        await this.host.log.append({
          tenant: this.state.tenant,
          stream: this.state.runId,
          expectedVersion: base,
          events,
        })
      } catch (error) {
        for (let i = 0; i < result.launches.length; i++) this.host.slots.release()
        if (this.unsent.length > 0) {
          // the run was never born: nothing to reload or retry
          this.closed = true
          this.birth.reject(error)
          this.host.onEnd(this)
          return
        }
        // Nothing of this batch is known durable: the submissions are tried again on the log's state.
        this.outbox.unshift(...accepted)
        throw error
      }
    }
    this.unsent = []
    this.birth.resolve()
    if (this.closed) {
      // closed while committing: what was decided is durable; the next process performs it
      for (let i = 0; i < result.launches.length; i++) this.host.slots.release()
      for (const s of accepted) s.resolve?.()
      return
    }
    for (const s of accepted) s.resolve?.()
    for (const l of result.launches) this.launch(l)
    this.abortStale()
    if (isTerminal(this.state.status)) {
      this.finish()
      return
    }
    this.armWake(result.wakeAt)
    if (result.starved) this.host.slots.onFree(() => this.kick())
    this.armPoll()
  }

  /** Performs one attempt of an agent, tool or sub-workflow step; its result is committed by the next step. */
  private launch(l: Launch, childRunId?: string, recordedInput?: RunState['input']): void {
    const key = unitKey(l.stepId, l.item)
    const controller = new AbortController()
    this.inflight.set(key, { attempt: l.attempt, controller })
    const ctx: AttemptContext = {
      tenant: this.state.tenant,
      runId: this.state.runId,
      stepId: l.stepId,
      item: l.item,
      attempt: l.attempt,
      idempotencyKey: l.idempotencyKey,
      signal: controller.signal,
    }
    let slotHeld = true
    const releaseSlot = () => {
      if (slotHeld) this.host.slots.release()
      slotHeld = false
    }
    const perform = async (): Promise<Json> => {
      const input =
        recordedInput === undefined ? l.input : await resolvePayload(this.host.blobs, this.state.tenant, recordedInput)
      const body = l.body
      switch (body.kind) {
        case 'agent':
          return (
            await this.host.agents.run({
              ...ctx,
              role: body.role,
              prompt: typeof input === 'string' ? input : JSON.stringify(input),
              tools: body.tools,
              maxTurns: body.maxTurns,
              recorded: await this.recordedTurns(l),
              record: (turn) => this.recordTurn(l, turn),
            })
          ).output
        case 'tool':
          return await this.host.tools.invoke({ ...ctx, tool: body.tool, input })
        case 'subworkflow': {
          let child = childRunId
          if (child === undefined) {
            child = await this.host.children.start(this.state, l, input)
            const started = child
            await this.submit((tx, state) => {
              const u = unitState(state, l.stepId, l.item)
              if (u.status !== 'running' || u.attempt !== l.attempt) return
              tx.emit('step.waiting', {
                stepId: l.stepId,
                ...(l.item === undefined ? {} : { item: l.item }),
                attempt: l.attempt,
                for: 'child',
                childRunId: started,
              })
            })
          }
          releaseSlot()
          const abandon = () =>
            void this.host.children.cancel(this.state, child, 'the parent step ended').catch(() => undefined)
          controller.signal.addEventListener('abort', abandon, { once: true })
          const end = await this.host.children.wait(this.state, child, controller.signal)
          if (end.status === 'completed') return await resolvePayload(this.host.blobs, end.tenant, end.output)
          const why =
            end.status === 'failed'
              ? `${end.error?.code ?? 'ERROR'}: ${end.error?.message ?? ''}`
              : (end.cancelReason ?? end.status)
          throw Object.assign(new ShiiooError('INTERNAL', `child run ${child} ${end.status}: ${why}`), {
            stepCode: STEP_ERROR_CODES.CHILD_FAILED,
          })
        }
      }
    }
    perform()
      .then(
        (output) => this.report(l, body(l), { output }),
        (error: unknown) => this.report(l, body(l), { error }),
      )
      .finally(() => {
        releaseSlot()
        if (this.inflight.get(key)?.controller === controller) this.inflight.delete(key)
      })
  }

  /** The turns an agent attempt recorded before a restart, with their payloads resolved. */
  private async recordedTurns(l: Launch): Promise<AgentTurn[]> {
    const u = unitState(this.state, l.stepId, l.item)
    if (u.attempt !== l.attempt) return []
    const tenant = this.state.tenant
    return Promise.all(
      u.turns.map(async (t) => ({
        ...t,
        request: await resolvePayload(this.host.blobs, tenant, t.request),
        response: await resolvePayload(this.host.blobs, tenant, t.response),
      })),
    )
  }

  /** Appends an agent turn in the run's commit order; refused if the attempt is no longer current. */
  private recordTurn(l: Launch, turn: AgentTurn): Promise<void> {
    return this.submit((tx, state) => {
      const u = unitState(state, l.stepId, l.item)
      if (u.status !== 'running' || u.attempt !== l.attempt) {
        throw new ShiiooError('CONFLICT', `attempt ${l.attempt} of step ${l.stepId} is no longer running`)
      }
      tx.emit('agent.turn', {
        stepId: l.stepId,
        ...(l.item === undefined ? {} : { item: l.item }),
        attempt: l.attempt,
        turn: turn.turn,
        ...(l.body.kind === 'agent' ? { role: l.body.role } : {}),
        model: turn.model,
        source: turn.source,
        usage: turn.usage,
        cost: turn.cost,
        request: { inline: turn.request },
        response: { inline: turn.response },
      })
    })
  }

  private report(l: Launch, b: Body, outcome: { output: Json } | { error: unknown }): void {
    if (this.closed) return
    this.outbox.push({
      make: (tx, state) => {
        const u = unitState(state, l.stepId, l.item)
        if ((u.status !== 'running' && u.status !== 'waiting') || u.attempt !== l.attempt) return
        const at = l.item === undefined ? {} : { item: l.item }
        if ('output' in outcome) {
          tx.emit('step.completed', { stepId: l.stepId, ...at, attempt: l.attempt, output: { inline: outcome.output } })
          if (l.item === undefined) this.values.setStep(l.stepId, outcome.output)
          else this.values.setItem(l.stepId, l.item, outcome.output)
          return
        }
        const stepCode = (outcome.error as { stepCode?: string }).stepCode
        const info = stepCode
          ? errorInfo(stepCode, toErrorInfo(outcome.error).message, false)
          : toErrorInfo(outcome.error)
        const decision = retryDecision(b.retry, l.attempt, info, this.host.clock.now(), this.host.random)
        tx.emit('step.failed', {
          stepId: l.stepId,
          ...at,
          attempt: l.attempt,
          error: info,
          willRetry: decision.willRetry,
          ...(decision.willRetry ? { retryAt: new Date(decision.retryAt).toISOString() } : {}),
        })
      },
    })
    this.kick()
  }

  /** Aborts attempts whose unit moved on (timed out, run cancelled or ended). */
  private abortStale(): void {
    for (const [key, f] of this.inflight) {
      const [stepId, item] = parseUnitKey(key)
      const u = unitState(this.state, stepId, item)
      const live =
        !isTerminal(this.state.status) && (u.status === 'running' || u.status === 'waiting') && u.attempt === f.attempt
      if (!live) {
        f.controller.abort(new ShiiooError('UNAVAILABLE', `attempt ${f.attempt} of ${key} is no longer current`))
        this.inflight.delete(key)
      }
    }
  }

  private armWake(at: number | null): void {
    if (at === null) {
      this.wakeTimer?.cancel()
      this.wakeTimer = null
      return
    }
    if (this.wakeTimer && this.wakeTimer.at === at) return
    this.wakeTimer?.cancel()
    const cancel = this.host.clock.setTimer(at, () => {
      this.wakeTimer = null
      this.kick()
    })
    this.wakeTimer = { at, cancel }
  }

  /**
   * While the run is unfinished, look now and then for events another process appended (a
   * `shiioo decide`, a pause, resume or cancel from another terminal).
   */
  private armPoll(): void {
    const waiting = !isTerminal(this.state.status)
    if (!waiting || this.pollTimer) return
    this.pollTimer = this.host.clock.setTimer(this.host.clock.now() + this.host.pollMs, () => {
      this.pollTimer = null
      void this.host.log
        .version({ tenant: this.state.tenant, stream: this.state.runId })
        .then((v) => {
          if (v > this.state.version) this.catchUpWanted = true
          this.kick()
        })
        .catch(() => this.kick())
    })
  }

  private async catchUp(): Promise<void> {
    this.catchUpWanted = false
    const fresh = await this.host.log.read({
      tenant: this.state.tenant,
      stream: this.state.runId,
      fromSeq: this.state.version + 1,
    })
    for (const e of fresh) {
      applyRunEvent(this.state, e)
      await absorbValue(this.host.blobs, this.values, this.state, e)
    }
  }

  /** Refolds the run from its log (after a failed or conflicting commit). */
  private async reload(): Promise<void> {
    const events = await this.host.log.read({ tenant: this.state.tenant, stream: this.state.runId })
    this.state = foldRunState(events)
    this.values = await loadValues(this.host.blobs, this.state, events)
    this.abortStale()
  }

  private clearTimers(): void {
    this.wakeTimer?.cancel()
    this.wakeTimer = null
    this.pollTimer?.()
    this.pollTimer = null
  }

  private finish(): void {
    this.clearTimers()
    this.abortStale()
    for (const s of this.outbox.splice(0))
      s.reject?.(new ShiiooError('CONFLICT', `run ${this.runId} already ${this.state.status}`))
    this.resolveDone(this.state)
    this.host.onEnd(this)
  }
}

function body(l: Launch): Body {
  return l.body
}

function unitKey(stepId: string, item: number | undefined): string {
  return item === undefined ? stepId : `${stepId}#${item}`
}

function parseUnitKey(key: string): [string, number | undefined] {
  const hash = key.indexOf('#')
  return hash < 0 ? [key, undefined] : [key.slice(0, hash), Number(key.slice(hash + 1))]
}

/** The values a run's expressions read, resolved from its events' payloads. */
async function loadValues(blobs: BlobStore, state: RunState, events: readonly StoredEvent[]): Promise<RunValues> {
  const inputs = await resolvePayload(blobs, state.tenant, state.input)
  const values = new RunValues(inputs !== null && typeof inputs === 'object' && !Array.isArray(inputs) ? inputs : {})
  for (const e of events) await absorbValue(blobs, values, state, e)
  return values
}

async function absorbValue(blobs: BlobStore, values: RunValues, state: RunState, e: StoredEvent): Promise<void> {
  switch (e.type) {
    case 'step.completed': {
      const v = await resolvePayload(blobs, state.tenant, e.data.output)
      if (e.data.item === undefined) values.setStep(e.data.stepId, v)
      else values.setItem(e.data.stepId, e.data.item, v)
      return
    }
    case 'step.started':
      if (e.data.item === undefined && e.data.input !== undefined) {
        const v = await resolvePayload(blobs, state.tenant, e.data.input)
        if (Array.isArray(v)) values.setList(e.data.stepId, v)
      }
      return
    case 'event.received':
      values.setEvent(e.seq, await resolvePayload(blobs, state.tenant, e.data.payload))
      return
    default:
      return
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void
  let reject!: (error: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => undefined) // observed through `born` by whoever cares
  return { promise, resolve, reject }
}
