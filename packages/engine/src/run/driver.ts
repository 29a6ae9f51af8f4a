import type { Actor, ErrorInfo, EventData, EventType, Json, LeaseGrant, NewEvent, StoredEvent } from '@shiioo/core'
import { ShiiooError, isShiiooError, newEvent, toShiiooError } from '@shiioo/core'
import type { CompiledWorkflow } from '../compile.js'
import { performAttempt } from './attempt.js'
import { errorInfo, failedData, toErrorInfo } from './failures.js'
import type { DriverHost } from './host.js'
import { ENGINE_ACTOR } from './host.js'
import type { PendingBlobs } from './payloads.js'
import { externalizePayloads, storePending } from './payloads.js'
import type { Launch, PlanResult, Tx } from './plan.js'
import { outputProblem, plan, unitName, valueError } from './plan.js'
import { LazyAbort } from './lazy-abort.js'
import type { AttemptContext } from './ports.js'
import type { RunState } from './state.js'
import { applyRunEvent, foldRunState, isTerminal, unitState } from './state.js'
import type { RunValues } from './values.js'
import { absorbEvent, loadRunValues } from './values.js'

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
  /**
   * The run's final state, or null when this driver stopped before the end (its lease was lost).
   * Rejects when it stopped on an error that retrying cannot cure (the run's log is damaged, the
   * event log stopped taking appends): the run stays unfinished, for a process that can read it.
   */
  readonly done: Promise<RunState | null>
  private resolveDone!: (state: RunState | null) => void
  private rejectDone!: (error: unknown) => void
  private readonly outbox: Submission[] = []
  private pumping = false
  private pumped: Promise<void> = Promise.resolve()
  private again = false
  private catchUpWanted = false
  private readonly inflight = new Map<string, { attempt: number; abort: LazyAbort }>()
  private wakeTimer: { at: number; cancel: () => void } | null = null
  /** Stops watching the run's stream for other processes' appends (see watchStream). */
  private unwatch: (() => void) | null = null
  /** The seq another process's commit reached: catch-up reads until the run has it. */
  private catchUpTo = 0
  private catchUpRetry: { timer: NodeJS.Timeout | null; attempt: number } | null = null
  private closed = false
  private ended = false
  /** Events folded into the state but not yet appended: a new run's run.started. */
  private unsent: NewEvent[] = []
  /** Set when the log refused this run's decisions for good: the next commit records the run's failure instead. */
  private unrecordable: ErrorInfo | null = null
  private readonly birth = deferred()

  private constructor(
    private readonly host: DriverHost,
    public state: RunState,
    readonly compiled: CompiledWorkflow,
    private values: RunValues,
    /** The run's lease: every append carries it, so it is refused once another process took the run over. */
    private readonly lease: LeaseGrant | undefined,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve
      this.rejectDone = reject
    })
    this.done.catch(() => undefined) // observed by whoever waits for the run
  }

  static async load(
    host: DriverHost,
    events: readonly StoredEvent[],
    compiled: CompiledWorkflow,
    lease: LeaseGrant | undefined,
  ): Promise<RunDriver> {
    const state = foldRunState(events)
    const values = await loadRunValues(host.blobs, state, events)
    return new RunDriver(host, state, compiled, values, lease)
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
    lease: LeaseGrant | undefined,
  ): Promise<RunDriver> {
    const stored = initial.map((e, i) => ({ ...e, stream: runId, seq: i + 1, tenant }) as StoredEvent)
    const driver = await RunDriver.load(host, stored, compiled, lease)
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
      // a loaded run was read before it was watched: look once for what came in between
      this.watchStream(this.unsent.length === 0)
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
    for (const f of this.inflight.values()) f.abort.abort(new ShiiooError('UNAVAILABLE', 'the engine is closing'))
    await this.pumped
  }

  /**
   * Another process took the run over (this one was paused or cut off past its lease's TTL): stop
   * at once, write nothing more, and let waiters follow the run where it is driven now.
   */
  async leaseLost(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.clearTimers()
    for (const f of this.inflight.values())
      f.abort.abort(new ShiiooError('LEASE_LOST', `run ${this.runId} is driven by another process now`))
    this.inflight.clear()
    for (const s of this.outbox.splice(0))
      s.reject?.(new ShiiooError('LEASE_LOST', `run ${this.runId} is driven by another process now`))
    this.birth.reject(new ShiiooError('LEASE_LOST', `run ${this.runId} is driven by another process now`))
    this.resolveDone(null)
    this.host.onEnd(this, 'stopped')
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
      // a reload can find that another process ended the run (the feed wakes runs fast enough to
      // load one just before its end reached the file): it ends here too
      if (isTerminal(this.state.status) && !this.closed && !this.ended) this.finish()
    } finally {
      // in the same turn as the last check of `again`, so a kick right after starts a new loop
      this.pumping = false
    }
  }

  /**
   * After a failed commit: reload the run from its log and try again, at once after a conflict
   * (another writer moved the run on), a little later after a failure that may pass (a busy lock).
   * A failure that cannot pass is never retried: the log refusing this run's decisions (a value or
   * a batch over one of its limits that the planner did not foresee) fails the run, naming it; a
   * log that cannot be read or written any more (damaged, its journal failed) stops the driver
   * with that error.
   */
  private async recover(error: unknown): Promise<void> {
    const e = toShiiooError(error)
    this.host.logger.warn('run step failed; reloading the run from its log', { runId: this.runId, error: e.message })
    try {
      await this.reload()
    } catch (reloadError) {
      const why = toShiiooError(reloadError)
      this.host.logger.error('cannot reload run', { runId: this.runId, error: why.message })
      if (!why.retryable) return this.halt(why)
    }
    // the log held more than this driver knew: the run may have ended meanwhile (an earlier holder's last commits)
    if (isTerminal(this.state.status)) {
      this.finish()
      return
    }
    if (e.code === 'CONFLICT') {
      this.again = true
      return
    }
    if (!e.retryable) {
      // the log refused what this run would record; anything else (a file system that refuses
      // writes, a damaged log) is not the run's doing and stops the driver instead
      const refused = e.code === 'INVALID_INPUT' || e.code === 'PAYLOAD_TOO_LARGE'
      if (this.unrecordable !== null || !refused) return this.halt(e)
      this.unrecordable = errorInfo(e.code, `the event log refused the run's next decisions: ${e.message}`, false)
      this.host.logger.error('the event log refused a run step for good; failing the run', {
        runId: this.runId,
        error: e.message,
      })
      this.again = true
      return
    }
    await new Promise((r) => this.host.clock.setTimer(this.host.clock.now() + 200, () => r(null)))
    this.again = true
  }

  /** Stops driving on an error retrying cannot cure; waiters get the error (see `done`). */
  private halt(error: ShiiooError): void {
    this.host.logger.error('stopped driving a run: retrying cannot cure its error', {
      runId: this.runId,
      error: error.message,
    })
    this.closed = true
    this.clearTimers()
    for (const f of this.inflight.values()) f.abort.abort(error)
    this.inflight.clear()
    for (const s of this.outbox.splice(0)) s.reject?.(error)
    this.rejectDone(error)
    this.host.onEnd(this, 'stopped')
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
      externalizePayloads(data, type === 'agent.turn' || type === 'agent.tool' ? 0 : this.host.inlineLimit, blobs)
      const e = newEvent(type, data, { id: this.host.newEventId(), at: stamp, actor })
      const stored = {
        id: e.id,
        stream: this.state.runId,
        seq: this.state.version + 1,
        type,
        v: e.v,
        at: stamp,
        tenant: this.state.tenant,
        actor,
        data,
      }
      applyRunEvent(this.state, stored as StoredEvent)
      events.push(e as NewEvent)
      if (type === 'event.received') this.values.setEvent(this.state.version, eventValue)
    }
    const tx: ActorTx = { emit: (type, data) => emitAs(ENGINE_ACTOR, type, data), emitAs }
    const limit = this.host.maxEventsPerCommit
    const accepted: Submission[] = []
    if (this.unrecordable !== null) {
      // the log refused this run's decisions for good: record why the run ends instead
      tx.emit('run.failed', { error: this.unrecordable })
    }
    // submissions beyond half a commit wait for the next one, so results and signals never fill a commit alone
    while (this.outbox.length > 0 && events.length < limit / 2 && !isTerminal(this.state.status)) {
      const s = this.outbox.shift()!
      try {
        s.make(tx, this.state)
        accepted.push(s)
      } catch (error) {
        s.reject?.(error)
      }
    }
    let result: PlanResult = { launches: [], wakeAt: null, starved: false, more: false }
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
          maxEvents: limit - events.length,
          maxValueBytes: this.host.maxValueBytes,
        },
        tx,
      )
    }
    if (events.length > 0) {
      try {
        if (blobs.size > 0) await storePending(this.host.blobs, this.state.tenant, blobs)
        await this.host.log.append({
          tenant: this.state.tenant,
          stream: this.state.runId,
          expectedVersion: base,
          events,
          lease: this.lease,
        })
      } catch (error) {
        for (let i = 0; i < result.launches.length; i++) this.host.slots.release()
        if (isShiiooError(error) && error.code === 'LEASE_LOST') {
          this.outbox.unshift(...accepted)
          void this.leaseLost()
          return
        }
        if (this.unsent.length > 0) {
          // the run was never born: nothing to reload or retry
          this.closed = true
          this.birth.reject(error)
          this.resolveDone(null)
          this.host.onEnd(this, 'stopped')
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
    // a large fan-out, or many results at once, goes over several commits
    if (result.more || this.outbox.length > 0) this.again = true
    this.armWake(result.wakeAt)
    if (result.starved) this.host.slots.onFree(() => this.kick())
  }

  /** Performs one attempt of an agent, tool or sub-workflow step; its result is committed by the next step. */
  private launch(l: Launch, childRunId?: string, recordedInput?: RunState['input']): void {
    const key = unitKey(l.stepId, l.item)
    const abort = new LazyAbort()
    this.inflight.set(key, { attempt: l.attempt, abort })
    const ctx: AttemptContext = {
      tenant: this.state.tenant,
      runId: this.state.runId,
      stepId: l.stepId,
      item: l.item,
      attempt: l.attempt,
      idempotencyKey: l.idempotencyKey,
      get signal() {
        return abort.signal
      },
    }
    let slotHeld = true
    const releaseSlot = () => {
      if (slotHeld) this.host.slots.release()
      slotHeld = false
    }
    performAttempt(
      { host: this.host, state: () => this.state, submit: (make) => this.submit(make), releaseSlot },
      l,
      ctx,
      childRunId,
      recordedInput,
    )
      .then(
        (output) => this.report(l, { output }),
        (error: unknown) => this.report(l, { error }),
      )
      .finally(() => {
        releaseSlot()
        if (this.inflight.get(key)?.abort === abort) this.inflight.delete(key)
      })
  }

  private report(l: Launch, outcome: { output: Json } | { error: unknown }): void {
    if (this.closed) return
    this.outbox.push({
      make: (tx, state) => {
        const u = unitState(state, l.stepId, l.item)
        if ((u.status !== 'running' && u.status !== 'waiting') || u.attempt !== l.attempt) return
        const at = l.item === undefined ? {} : { item: l.item }
        const problem = 'output' in outcome ? outputProblem(outcome.output, l.item, this.host.maxValueBytes) : null
        if (problem !== null) {
          // retrying would record the same value: the attempt is the last
          const what = `the output of ${unitName(l.stepId, l.item)}`
          const final = { ...l.body, retry: { ...l.body.retry, maxAttempts: 1 } }
          const info = valueError(what, problem)
          tx.emit(
            'step.failed',
            failedData(final, l.stepId, l.item, l.attempt, info, this.host.clock.now(), this.host.random),
          )
          return
        }
        if ('output' in outcome) {
          tx.emit('step.completed', { stepId: l.stepId, ...at, attempt: l.attempt, output: { inline: outcome.output } })
          if (l.item === undefined) this.values.setStep(l.stepId, outcome.output)
          else this.values.setItem(l.stepId, l.item, outcome.output)
          return
        }
        const info = toErrorInfo(outcome.error)
        tx.emit(
          'step.failed',
          failedData(l.body, l.stepId, l.item, l.attempt, info, this.host.clock.now(), this.host.random),
        )
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
        f.abort.abort(new ShiiooError('UNAVAILABLE', `attempt ${f.attempt} of ${key} is no longer current`))
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
   * While the run is unfinished, the feed tells it of events another process appended to its
   * stream (a `shiioo decide`, a pause, resume or cancel from another terminal): no polling.
   */
  private watchStream(check: boolean): void {
    if (this.unwatch || this.closed) return
    const { tenant, runId } = this.state
    this.unwatch = this.host.streams.watch(
      tenant,
      runId,
      () => this.state.version,
      (lastSeq) => {
        if (lastSeq !== null) this.catchUpTo = Math.max(this.catchUpTo, lastSeq)
        this.catchUpWanted = true
        this.kick()
      },
      { check },
    )
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
      await absorbEvent(this.host.blobs, this.values, this.state, e)
    }
    if (this.state.version < this.catchUpTo) this.retryCatchUp()
    else this.catchUpRetry = null
  }

  /**
   * The feed named a commit the stream file does not show yet: its writer puts the bytes there
   * within milliseconds (write-behind, ADR 0007). Read again soon, on the real clock (this waits
   * for a disk, not for the run's time).
   */
  private retryCatchUp(): void {
    if (this.catchUpRetry?.timer) return // one is on its way
    const retry = { timer: null as NodeJS.Timeout | null, attempt: (this.catchUpRetry?.attempt ?? 0) + 1 }
    retry.timer = setTimeout(
      () => {
        retry.timer = null
        this.catchUpWanted = true
        this.kick()
      },
      // every 2 ms while a write-behind delay (10 ms) may explain it, then backing off to 100 ms
      retry.attempt <= 10 ? 2 : Math.min(100, 2 ** (retry.attempt - 6)),
    )
    this.catchUpRetry = retry
  }

  /** Refolds the run from its log (after a failed or conflicting commit). */
  private async reload(): Promise<void> {
    const events = await this.host.log.read({ tenant: this.state.tenant, stream: this.state.runId })
    this.state = foldRunState(events)
    this.values = await loadRunValues(this.host.blobs, this.state, events)
    this.abortStale()
  }

  private clearTimers(): void {
    this.wakeTimer?.cancel()
    this.wakeTimer = null
    this.unwatch?.()
    this.unwatch = null
    if (this.catchUpRetry?.timer) clearTimeout(this.catchUpRetry.timer)
    this.catchUpRetry = null
  }

  private finish(): void {
    this.ended = true
    this.clearTimers()
    this.abortStale()
    for (const s of this.outbox.splice(0))
      s.reject?.(new ShiiooError('CONFLICT', `run ${this.runId} already ${this.state.status}`))
    this.resolveDone(this.state)
    this.host.onEnd(this, 'ended')
  }
}

function unitKey(stepId: string, item: number | undefined): string {
  return item === undefined ? stepId : `${stepId}#${item}`
}

function parseUnitKey(key: string): [string, number | undefined] {
  const hash = key.indexOf('#')
  return hash < 0 ? [key, undefined] : [key.slice(0, hash), Number(key.slice(hash + 1))]
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
