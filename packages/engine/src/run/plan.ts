import type { ErrorInfo, EventData, EventType, Json } from '@shiioo/core'
import { MAX_ITEM_INDEX, MAX_WAIT_PROMPT_CHARS } from '@shiioo/core'
import type { CompiledWorkflow } from '../compile.js'
import { evaluateCondition, renderTemplate } from '../evaluate.js'
import type { ForeachBody, StepDefinition } from '../schema.js'
import type { ValueProblem } from '../value-limits.js'
import { EVENT_DEPTH, ITEM_OUTPUT_DEPTH, valueProblem } from '../value-limits.js'
import { STEP_ERROR_CODES, errorInfo, failedData, toErrorInfo } from './failures.js'
import { renderInput } from './render-input.js'
import type { RunState, UnitState } from './state.js'
import { isTerminal, isUnitDone, stepState, unitState } from './state.js'
import type { RunValues } from './values.js'

/** A step body: a step, or what a foreach runs per item. */
export type Body = StepDefinition | ForeachBody

/** Records an event: the driver gives it its id and time and applies it to the state at once. */
export interface Tx {
  emit<T extends EventType>(type: T, data: EventData<T>): void
}

/** An attempt the driver must perform outside the scheduler: a call to an agent, a tool or a child run. */
export interface Launch {
  stepId: string
  item: number | undefined
  attempt: number
  idempotencyKey: string
  body: Extract<Body, { kind: 'agent' | 'tool' | 'subworkflow' }>
  /** The rendered input: the prompt for an agent, the input object for a tool or child run. */
  input: Json
}

export interface PlanContext {
  compiled: CompiledWorkflow
  values: RunValues
  now: number
  /** Most units of this run executing at once. */
  maxParallel: number
  /** Takes a slot of the engine-wide concurrency limit; false when none is free. */
  takeSlot: () => boolean
  random: () => number
  /**
   * Most events to record in this call (the log takes a bounded number per append): the planner
   * stops before a unit whose decisions could pass it, and says there is `more`. Unbounded if unset.
   */
  maxEvents?: number
  /** Largest value (input or output) to record, in bytes of JSON (see valueProblem). */
  maxValueBytes?: number
  /**
   * Whether an attempt may start now; one that may not waits for a later plan (and `more` is set).
   * Replay starts each attempt when the log says it started; the driver starts what is ready.
   */
  admit?: (stepId: string, item: number | undefined, attempt: number) => boolean
}

export interface PlanResult {
  launches: Launch[]
  /** The earliest time a timer, deadline or retry needs the scheduler again. */
  wakeAt: number | null
  /** True when a unit was ready but no concurrency slot was free. */
  starved: boolean
  /** True when the planner left decisions for a later plan (it stopped at `maxEvents`, or `admit` said no). */
  more: boolean
}

const EXECUTING: ReadonlySet<string> = new Set(['agent', 'tool', 'subworkflow'])

/** The most events one unit's decisions record in one plan (started, waiting, completed, failed...). */
const EVENTS_PER_UNIT = 4

export function idempotencyKey(runId: string, stepId: string, item: number | undefined, attempt: number): string {
  return item === undefined ? `${runId}:${stepId}:${attempt}` : `${runId}:${stepId}[${item}]:${attempt}`
}

/**
 * The scheduler: given a run's state, records every decision it can make now (starts, skips,
 * waits that resolved, retries that are due, the run's end) through `tx`, and returns the attempts
 * the driver must perform. Deterministic in its inputs; it performs no I/O.
 */
export function plan(state: RunState, ctx: PlanContext, tx: Tx): PlanResult {
  const result: PlanResult = { launches: [], wakeAt: null, starved: false, more: false }
  if (isTerminal(state.status)) return result
  let emitted = 0
  const counted: Tx = {
    emit(type, data) {
      emitted++
      tx.emit(type, data)
    },
  }
  const p = new Planner(state, ctx, counted, result, () => emitted)
  p.run()
  return result
}

class Planner {
  private executing = 0

  constructor(
    private readonly state: RunState,
    private readonly ctx: PlanContext,
    private readonly tx: Tx,
    private readonly result: PlanResult,
    private readonly emitted: () => number,
  ) {
    for (const s of Object.values(state.steps)) {
      if (s.status === 'running' && s.items === null) this.executing++
      for (const u of s.items ?? []) if (u.status === 'running') this.executing++
    }
  }

  run(): void {
    for (const id of this.ctx.compiled.order) {
      if (this.full()) return
      this.visitStep(id)
    }
    this.finishIfDone()
  }

  /**
   * True (and `more` set) once the next unit's decisions could pass maxEvents: the rest waits for
   * the next plan. A plan that has recorded nothing yet always goes on, so every plan makes progress.
   */
  private full(): boolean {
    const max = this.ctx.maxEvents
    if (max === undefined || this.emitted() === 0 || this.emitted() + EVENTS_PER_UNIT <= max) return false
    this.result.more = true
    return true
  }

  private get paused(): boolean {
    return this.state.status === 'paused'
  }

  private wake(at: number): void {
    if (this.result.wakeAt === null || at < this.result.wakeAt) this.result.wakeAt = at
  }

  private visitStep(id: string): void {
    const compiled = this.ctx.compiled.steps.get(id)!
    const step = compiled.step
    const s = stepState(this.state, id)
    switch (s.status) {
      case 'pending': {
        if (this.paused) return
        for (const dep of compiled.dependencies) {
          const d = stepState(this.state, dep)
          if (d.status === 'failed' || d.status === 'skipped') {
            this.tx.emit('step.skipped', {
              stepId: id,
              reason: `needs ${dep}, which ${d.status === 'failed' ? 'failed' : 'was skipped'}`,
            })
            return
          }
          if (d.status !== 'completed') return
        }
        if (!this.conditionHolds(id, undefined, step, undefined)) return
        this.start(id, undefined, step, 1)
        return
      }
      case 'retrying':
        this.retryIfDue(id, undefined, step, s)
        return
      case 'waiting':
        this.checkWait(id, undefined, step, s)
        return
      case 'running':
        if (step.kind === 'foreach') this.progressItems(id, step, s)
        else this.checkDeadline(id, undefined, step, s)
        return
      default:
        return
    }
  }

  /** Evaluates `when`; a false one skips the unit, a broken one fails it. */
  private conditionHolds(id: string, item: number | undefined, body: Body, scopeItem: Json | undefined): boolean {
    if (body.when === undefined) return true
    try {
      const scope = this.ctx.values.scope(
        this.state,
        item === undefined ? undefined : { item: scopeItem ?? null, index: item },
      )
      if (evaluateCondition(body.when, scope)) return true
      this.tx.emit('step.skipped', {
        stepId: id,
        ...(item === undefined ? {} : { item }),
        reason: `when \`${clip(body.when)}\` is false`,
      })
    } catch (error) {
      this.tx.emit('step.failed', {
        stepId: id,
        ...(item === undefined ? {} : { item }),
        attempt: 1,
        error: toErrorInfo(error),
        willRetry: false,
      })
    }
    return false
  }

  private retryIfDue(id: string, item: number | undefined, body: Body, u: UnitState): void {
    if (this.paused) return
    const due = Date.parse(u.retryAt ?? '')
    if (Number.isFinite(due) && due > this.ctx.now) {
      this.wake(due)
      return
    }
    this.start(id, item, body, u.attempt + 1)
  }

  /** Starts an attempt: records step.started, and what the kind does at once (transform, waits). */
  private start(id: string, item: number | undefined, body: Body, attempt: number): void {
    if (this.ctx.admit?.(id, item, attempt) === false) {
      this.result.more = true
      return
    }
    // before rendering: a fan-out waiting for capacity would otherwise render every waiting item's
    // input on every commit (quadratic in the items, each render converting the whole scope)
    if (EXECUTING.has(body.kind) && this.executing >= this.ctx.maxParallel) {
      this.result.starved = true
      return
    }
    const at = item === undefined ? {} : { item }
    const key = idempotencyKey(this.state.runId, id, item, attempt)
    const itemValue = item === undefined ? undefined : (this.ctx.values.list(id)?.[item] ?? null)
    const scope = this.ctx.values.scope(
      this.state,
      item === undefined ? undefined : { item: itemValue ?? null, index: item },
    )
    let rendered: Json | undefined
    try {
      rendered = renderInput(body, scope, this.ctx.now)
    } catch (error) {
      this.tx.emit('step.started', { stepId: id, ...at, attempt, idempotencyKey: key })
      this.fail(id, item, body, attempt, { ...toErrorInfo(error), retryable: false })
      return
    }
    const unrecordable = rendered === undefined ? null : this.inputProblem(id, item, body, rendered)
    if (unrecordable !== null) {
      this.tx.emit('step.started', { stepId: id, ...at, attempt, idempotencyKey: key })
      this.failFinal(id, item, body, attempt, unrecordable)
      return
    }
    if (EXECUTING.has(body.kind) && (this.executing >= this.ctx.maxParallel || !this.ctx.takeSlot())) {
      this.result.starved = true
      return
    }
    const input = rendered === undefined || body.kind === 'transform' ? {} : { input: { inline: rendered } }
    this.tx.emit('step.started', { stepId: id, ...at, attempt, idempotencyKey: key, ...input })
    switch (body.kind) {
      case 'transform':
        this.complete(id, item, body, attempt, rendered ?? null)
        return
      case 'approval':
        this.tx.emit('step.waiting', {
          stepId: id,
          ...at,
          attempt,
          for: 'approval',
          prompt: typeof rendered === 'string' ? rendered : JSON.stringify(rendered),
        })
        this.checkWait(id, item, body, unitState(this.state, id, item))
        return
      case 'wait': {
        const w = rendered as { until?: number; event?: string }
        if (w.event !== undefined) {
          this.tx.emit('step.waiting', { stepId: id, ...at, attempt, for: 'event', event: w.event })
        } else {
          this.tx.emit('step.waiting', {
            stepId: id,
            ...at,
            attempt,
            for: 'timer',
            until: new Date(w.until!).toISOString(),
          })
        }
        this.checkWait(id, item, body, unitState(this.state, id, item))
        return
      }
      case 'foreach':
        this.ctx.values.setList(id, rendered as Json[])
        this.progressItems(id, body, stepState(this.state, id))
        return
      default:
        this.executing++
        this.result.launches.push({ stepId: id, item, attempt, idempotencyKey: key, body, input: rendered ?? null })
        this.checkDeadline(id, item, body, unitState(this.state, id, item))
    }
  }

  /**
   * Why a rendered input cannot be recorded (too deep, too large, a foreach over more items than
   * events can number, an approval question longer than its event holds), or null.
   */
  private inputProblem(id: string, item: number | undefined, body: Body, rendered: Json): ErrorInfo | null {
    const what = `the ${body.kind === 'approval' ? 'question' : 'input'} of ${unitName(id, item)}`
    if (body.kind === 'foreach' && Array.isArray(rendered) && rendered.length > MAX_ITEM_INDEX + 1) {
      return errorInfo(
        'INVALID_INPUT',
        `${unitName(id, item)} fans out over ${rendered.length} items, more than the ${MAX_ITEM_INDEX + 1} a foreach may have`,
        false,
      )
    }
    if (body.kind === 'approval' && typeof rendered === 'string' && rendered.length > MAX_WAIT_PROMPT_CHARS) {
      return errorInfo(
        'INVALID_INPUT',
        `${what} is ${rendered.length} characters long, more than the ${MAX_WAIT_PROMPT_CHARS} an approval may ask`,
        false,
      )
    }
    const problem = body.kind === 'transform' ? null : valueProblem(rendered, this.ctx.maxValueBytes)
    return problem === null ? null : valueError(what, problem)
  }

  /** Records a failure that no retry can cure: the attempt is the unit's last, whatever its retry policy. */
  private failFinal(id: string, item: number | undefined, body: Body, attempt: number, error: ErrorInfo): void {
    this.fail(id, item, { ...body, retry: { ...body.retry, maxAttempts: 1 } }, attempt, { ...error, retryable: false })
  }

  /** Records a unit's output, or fails it when the output cannot be recorded. */
  private complete(id: string, item: number | undefined, body: Body, attempt: number, output: Json): void {
    const problem = outputProblem(output, item, this.ctx.maxValueBytes)
    if (problem !== null) {
      this.failFinal(id, item, body, attempt, valueError(`the output of ${unitName(id, item)}`, problem))
      return
    }
    this.tx.emit('step.completed', {
      stepId: id,
      ...(item === undefined ? {} : { item }),
      attempt,
      output: { inline: output },
    })
    if (item === undefined) this.ctx.values.setStep(id, output)
    else this.ctx.values.setItem(id, item, output)
  }

  /** Records a failed attempt, with a retry when the policy allows one. */
  fail(id: string, item: number | undefined, body: Body, attempt: number, error: ErrorInfo): void {
    const data = failedData(body, id, item, attempt, error, this.ctx.now, this.ctx.random)
    this.tx.emit('step.failed', data)
    if (data.retryAt !== undefined) this.wake(Date.parse(data.retryAt))
  }

  /**
   * A timeout is a deadline from the attempt's start; it survives restarts because the start is an
   * event. Time a model call waited for capacity does not count (schedule-to-start is not
   * start-to-close): while it waits there is no deadline, and after, the deadline moves by the wait.
   */
  private deadlineOf(body: Body, u: UnitState): number | null {
    if (body.timeout === undefined || u.startedAt === null || u.queuedSince !== null) return null
    return Date.parse(u.startedAt) + body.timeout + u.queuedMs
  }

  private checkDeadline(id: string, item: number | undefined, body: Body, u: UnitState): boolean {
    const deadline = this.deadlineOf(body, u)
    if (deadline === null) return false
    if (deadline > this.ctx.now) {
      this.wake(deadline)
      return false
    }
    this.fail(
      id,
      item,
      body,
      u.attempt,
      errorInfo(STEP_ERROR_CODES.TIMEOUT, `attempt ${u.attempt} timed out after ${body.timeout}ms`, true),
    )
    return true
  }

  private checkWait(id: string, item: number | undefined, body: Body, u: UnitState): void {
    if (u.status !== 'waiting' || u.wait === null) return
    switch (u.wait.for) {
      case 'approval': {
        const d = this.state.decisions.find((x) => x.stepId === id && x.item === item)
        if (d?.decision === 'approve') {
          const output = {
            approved: true,
            by: d.actor.id,
            at: d.at,
            ...(d.comment === undefined ? {} : { comment: d.comment }),
          }
          this.complete(id, item, body, u.attempt, output)
          return
        }
        if (d?.decision === 'reject') {
          const why = d.comment ? `: ${d.comment}` : ''
          this.fail(
            id,
            item,
            body,
            u.attempt,
            errorInfo(STEP_ERROR_CODES.REJECTED, `rejected by ${d.actor.kind}:${d.actor.id}${why}`, false),
          )
          return
        }
        break
      }
      case 'timer': {
        const due = Date.parse(u.wait.until ?? '')
        if (due <= this.ctx.now) {
          this.complete(id, item, body, u.attempt, { firedAt: u.wait.until })
          return
        }
        this.wake(due)
        break
      }
      case 'event': {
        const match = body.kind === 'wait' ? body.event?.match : undefined
        const name = u.wait.event
        for (const e of this.state.events) {
          if (e.name !== name) continue
          const payload = this.ctx.values.event(e.seq)
          if (match !== undefined && !this.eventMatches(match, payload)) continue
          this.complete(id, item, body, u.attempt, { name: e.name, payload, receivedAt: e.at })
          return
        }
        break
      }
      case 'child':
        // the driver reports the child's end
        break
    }
    this.checkDeadline(id, item, body, u)
  }

  /** An event that `match` cannot be evaluated on (a key it lacks) does not match; it is not an error. */
  private eventMatches(match: string, payload: Json): boolean {
    try {
      return evaluateCondition(match, { ...this.ctx.values.scope(this.state), event: payload })
    } catch {
      return false
    }
  }

  private progressItems(
    id: string,
    step: Extract<StepDefinition, { kind: 'foreach' }>,
    s: UnitState & { items: UnitState[] | null },
  ): void {
    const list = this.ctx.values.list(id) ?? []
    const limit = step.maxParallel ?? list.length
    let active = (s.items ?? []).filter((u) => u.status === 'running' || u.status === 'waiting').length
    for (let i = 0; i < list.length; i++) {
      if (this.full()) return
      const u = unitState(this.state, id, i)
      switch (u.status) {
        case 'pending':
          if (this.paused || active >= limit) break
          if (!this.conditionHolds(id, i, step.step, list[i])) break
          this.start(id, i, step.step, 1)
          if (isActive(unitState(this.state, id, i))) active++
          break
        case 'retrying':
          this.retryIfDue(id, i, step.step, u)
          break
        case 'waiting':
          this.checkWait(id, i, step.step, u)
          break
        case 'running':
          this.checkDeadline(id, i, step.step, u)
          break
        default:
          break
      }
    }
    const items = s.items ?? []
    if (items.length < list.length || !items.every((u) => isUnitDone(u.status))) {
      this.checkDeadline(id, undefined, step, s)
      return
    }
    const failed = items.findIndex((u) => u.status === 'failed')
    if (failed >= 0) {
      const e = items[failed]!.error
      this.fail(
        id,
        undefined,
        { ...step, retry: { ...step.retry, maxAttempts: 1 } },
        s.attempt,
        errorInfo(
          STEP_ERROR_CODES.ITEM_FAILED,
          `item ${failed} failed: ${e?.code ?? 'ERROR'}: ${e?.message ?? ''}`,
          false,
        ),
      )
      return
    }
    this.complete(
      id,
      undefined,
      step,
      s.attempt,
      list.map((_, i) => this.ctx.values.item(id, i)),
    )
  }

  private finishIfDone(): void {
    if (isTerminal(this.state.status)) return
    const { compiled } = this.ctx
    for (const id of compiled.order) if (!isUnitDone(stepState(this.state, id).status)) return
    const failed = compiled.order.find((id) => stepState(this.state, id).status === 'failed')
    if (failed !== undefined) {
      const error = stepState(this.state, failed).error ?? errorInfo('INTERNAL', 'failed', false)
      this.tx.emit('run.failed', { error, failedStep: failed })
      return
    }
    const template = compiled.definition.output
    let output: Json = null
    if (template !== undefined) {
      try {
        output = renderTemplate(template, this.ctx.values.scope(this.state))
      } catch (error) {
        this.tx.emit('run.failed', { error: toErrorInfo(error) })
        return
      }
      const problem = valueProblem(output, this.ctx.maxValueBytes)
      if (problem !== null) {
        this.tx.emit('run.failed', { error: valueError("the run's output", problem) })
        return
      }
    }
    this.tx.emit('run.completed', { output: { inline: output } })
  }
}

/** Why a unit's output cannot be recorded: a foreach item's is listed in its foreach's output, a level deeper. */
export function outputProblem(output: Json, item: number | undefined, maxBytes: number | undefined) {
  return valueProblem(output, maxBytes, item === undefined ? EVENT_DEPTH : ITEM_OUTPUT_DEPTH)
}

export function unitName(id: string, item: number | undefined): string {
  return item === undefined ? `step "${id}"` : `item ${item} of step "${id}"`
}

/** A value that cannot be recorded, as a step or run error: final (retrying renders the same value). */
export function valueError(what: string, problem: ValueProblem): ErrorInfo {
  return errorInfo(problem.kind === 'size' ? 'PAYLOAD_TOO_LARGE' : 'INVALID_INPUT', `${what} ${problem.message}`, false)
}

function isActive(u: UnitState): boolean {
  return u.status === 'running' || u.status === 'waiting'
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
