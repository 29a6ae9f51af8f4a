import { createHash } from 'node:crypto'
import type { BlobStore, ErrorInfo, EventData, EventType, Json, Payload, StoredEvent } from '@shiioo/core'
import { ShiiooError, newEvent } from '@shiioo/core'
import type { CompiledWorkflow } from '../compile.js'
import { canonicalJson } from '../hash.js'
import { ENGINE_ACTOR } from './host.js'
import { resolvePayload } from './payloads.js'
import type { Launch, Tx } from './plan.js'
import { plan } from './plan.js'
import type { RunState } from './state.js'
import { applyRunEvent, foldRunState, isTerminal } from './state.js'
import { RunValues } from './values.js'

export interface ReplayReport {
  runId: string
  /** True when the replay made every decision the log records and ended the same way. */
  ok: boolean
  /** The recorded final status, and the one the replay reached. */
  status: RunState['status']
  replayedStatus: RunState['status']
  /** Each difference between the log and the replay, in words. */
  mismatches: string[]
  /** Events in the recorded log, and scheduler turns the replay took. */
  events: number
  turns: number
  /** Calls the replay made to agents, tools or child runs: always 0, it reuses recorded outcomes. */
  calls: 0
}

type Outcome = { at: number } & (
  { kind: 'completed'; value: Json } | { kind: 'failed'; error: ErrorInfo; willRetry: boolean; retryAt?: string }
)

/** Events that come from outside the scheduler: the replay applies them at the time the run took them in. */
const SIGNALS: ReadonlySet<EventType> = new Set(['approval.decided', 'event.received', 'run.paused', 'run.resumed'])

const MAX_TURNS = 100_000

/**
 * Replays a finished run: the current scheduler runs again over the run's definition, with every
 * agent, tool and child-run attempt answered by the outcome the log recorded for it, signals as
 * recorded, and time taken from the record. It calls nothing. The replay must make the same
 * decisions (starts, inputs, skips, waits, outputs, retries) and reach the same end; each
 * difference is reported.
 *
 * Time: the driver made each decision at the time its commit is stamped with, and some decisions
 * depend on it (a `duration` wait's deadline, a timeout). So the replay's clock moves only to times
 * the log records: an outcome is answered at the time it was recorded, a timer fires at the first
 * recorded time at or after it was due (when the driver's timer actually fired), a signal counts
 * from the first decision the run made after it arrived (the driver takes in another process's
 * signal at its next poll), a pause and a resume from when they were recorded, and an attempt
 * starts no earlier than the log says it did (the rest of a fan-out larger than one commit went
 * in a later one; an attempt may have waited for a concurrency slot).
 */
export async function replayRun(
  events: readonly StoredEvent[],
  compiled: CompiledWorkflow,
  blobs: BlobStore,
  /** The driver's limit on recorded values, as the run was made under. */
  limits: { maxValueBytes?: number } = {},
): Promise<ReplayReport> {
  const recorded = foldRunState(events)
  if (!isTerminal(recorded.status)) {
    throw new ShiiooError('CONFLICT', `run ${recorded.runId} is ${recorded.status}; replay needs a finished run`)
  }
  const tenant = recorded.tenant
  const outcomes = new Map<string, Outcome>()
  for (const e of events) {
    const at = Date.parse(e.at)
    if (e.type === 'step.completed') {
      outcomes.set(attemptKey(e.data.stepId, e.data.item, e.data.attempt), {
        at,
        kind: 'completed',
        value: await resolvePayload(blobs, tenant, e.data.output),
      })
    } else if (e.type === 'step.failed') {
      outcomes.set(attemptKey(e.data.stepId, e.data.item, e.data.attempt), {
        at,
        kind: 'failed',
        error: e.data.error,
        willRetry: e.data.willRetry,
        ...(e.data.retryAt === undefined ? {} : { retryAt: e.data.retryAt }),
      })
    }
  }
  // the run as it began (a fork's reused steps included); its signals join at their times
  const born = events.slice(0, bornWith(events))
  const clock = recordedClock(events, born.length)
  const signals = clock.signals
  const replayed: StoredEvent[] = [...born]
  const state = foldRunState(replayed)
  const inputs = await resolvePayload(blobs, tenant, state.input)
  const values = new RunValues(inputs !== null && typeof inputs === 'object' && !Array.isArray(inputs) ? inputs : {})
  for (const e of born) {
    if (e.type === 'step.completed') values.setStep(e.data.stepId, await resolvePayload(blobs, tenant, e.data.output))
  }
  const signalValues = new Map<StoredEvent, Json>()
  for (const { event } of signals) {
    if (event.type === 'event.received')
      signalValues.set(event, await resolvePayload(blobs, tenant, event.data.payload))
  }
  let now = clock.start
  const tx: Tx = {
    emit<T extends EventType>(type: T, data: EventData<T>) {
      const e = newEvent(type, retryAsRecorded(type, data, outcomes), {
        id: 'evt_00000000000000000000000000' as never,
        at: new Date(now),
        actor: ENGINE_ACTOR,
      })
      const stored = { ...e, stream: state.runId, seq: state.version + 1, tenant } as StoredEvent
      applyRunEvent(state, stored)
      replayed.push(stored)
    },
  }
  const outcomeOf = (l: Launch) => outcomes.get(attemptKey(l.stepId, l.item, l.attempt))
  let pending: Launch[] = []
  let unanswered = 0
  let nextSignal = 0
  let turns = 0
  for (; turns < MAX_TURNS && !isTerminal(state.status); turns++) {
    const before = state.version
    for (; nextSignal < signals.length && signals[nextSignal]!.at <= now; nextSignal++) {
      const { event } = signals[nextSignal]!
      const stored = { ...event, seq: state.version + 1 }
      applyRunEvent(state, stored)
      replayed.push(stored)
      if (stored.type === 'event.received') values.setEvent(stored.seq, signalValues.get(event) ?? null)
    }
    const answering = pending.filter((l) => outcomeOf(l)!.at <= now)
    pending = pending.filter((l) => outcomeOf(l)!.at > now)
    for (const l of answering) answer(l, outcomeOf(l)!, state, values, tx)
    const result = plan(
      state,
      {
        compiled,
        values,
        now,
        maxParallel: Number.MAX_SAFE_INTEGER,
        takeSlot: () => true,
        random: () => 0.5,
        admit: (stepId, item, attempt) => (clock.startOf(attemptKey(stepId, item, attempt)) ?? now) <= now,
        ...(limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes }),
      },
      tx,
    )
    for (const l of result.launches) {
      if (outcomeOf(l)) pending.push(l)
      else unanswered++
    }
    if (state.version > before || pending.some((l) => outcomeOf(l)!.at <= now)) continue
    const next = Math.min(
      ...pending.map((l) => outcomeOf(l)!.at),
      signals[nextSignal]?.at ?? Infinity,
      // an attempt the log started later (the rest of a fan-out larger than a commit, one that waited for a slot)
      result.more ? clock.firstAtOrAfter(now + 1) : Infinity,
      result.wakeAt === null ? Infinity : clock.firstAtOrAfter(Math.max(result.wakeAt, now + 1)),
    )
    if (next !== Infinity) {
      now = next
      continue
    }
    // The log records nothing later: a replay that differs may still need time to end; a cancelled
    // run ends here (what was pending when it was cancelled never happened).
    if (result.wakeAt !== null && unanswered === 0 && recorded.status !== 'cancelled') {
      now = Math.max(now + 1, result.wakeAt)
      continue
    }
    if (recorded.status === 'cancelled') tx.emit('run.cancelled', { reason: recorded.cancelReason ?? 'cancelled' })
    break
  }
  const mismatches = await compare(events, replayed, blobs, tenant)
  if (state.status !== recorded.status)
    mismatches.unshift(`the run ended ${state.status}, the log says ${recorded.status}`)
  return {
    runId: recorded.runId,
    ok: mismatches.length === 0,
    status: recorded.status,
    replayedStatus: state.status,
    mismatches,
    events: events.length,
    turns,
    calls: 0,
  }
}

/**
 * The times a run's log records: when its first decision was made, the first recorded time at or
 * after a given one, and when each signal counts (see replayRun).
 */
function recordedClock(events: readonly StoredEvent[], born: number) {
  const times = [...new Set(events.map((e) => Date.parse(e.at)))].sort((a, b) => a - b)
  const starts = new Map<string, number>()
  for (const e of events) {
    if (e.type === 'step.started') starts.set(attemptKey(e.data.stepId, e.data.item, e.data.attempt), Date.parse(e.at))
  }
  const startedAt = Date.parse(events[0]!.at)
  const decisions = events.slice(born).filter((e) => !SIGNALS.has(e.type) && e.type !== 'run.cancelled')
  const signals: Array<{ at: number; event: StoredEvent }> = []
  for (const e of events) {
    if (!SIGNALS.has(e.type)) continue
    let at = Date.parse(e.at)
    if (e.type === 'approval.decided' || e.type === 'event.received') {
      const taken = decisions.find((d) => d.seq > e.seq)
      if (taken) at = Math.max(at, Date.parse(taken.at))
    }
    signals.push({ at, event: e })
  }
  // applied in log order: a later signal never counts before an earlier one
  for (let i = 1; i < signals.length; i++) signals[i]!.at = Math.max(signals[i]!.at, signals[i - 1]!.at)
  return {
    start: Math.max(startedAt, decisions[0] === undefined ? startedAt : Date.parse(decisions[0].at)),
    signals,
    firstAtOrAfter(t: number): number {
      return times[firstIndexAtOrAfter(times, t)] ?? Infinity
    },
    /** When the log says an attempt started. */
    startOf(key: string): number | undefined {
      return starts.get(key)
    },
  }
}

/** The first index of the sorted `times` whose time is at or after `t` (times.length when none is). */
function firstIndexAtOrAfter(times: readonly number[], t: number): number {
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (times[mid]! < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * How many events the run was born with: its run.started and, for a fork, the steps it reused
 * (each a step.started and a step.completed naming the source run), appended before any decision.
 */
function bornWith(events: readonly StoredEvent[]): number {
  let n = 1
  for (;;) {
    const started = events[n]
    const completed = events[n + 1]
    if (
      started?.type !== 'step.started' ||
      completed?.type !== 'step.completed' ||
      completed.data.reusedFrom === undefined ||
      completed.data.stepId !== started.data.stepId
    )
      return n
    n += 2
  }
}

/** A retry the scheduler decides itself (a timeout) is due when the log says, not at the replay's own jitter. */
function retryAsRecorded<T extends EventType>(
  type: T,
  data: EventData<T>,
  outcomes: Map<string, Outcome>,
): EventData<T> {
  if (type !== 'step.failed') return data
  const failed = data as EventData<'step.failed'>
  const was = outcomes.get(attemptKey(failed.stepId, failed.item, failed.attempt))
  if (!failed.willRetry || was?.kind !== 'failed' || was.retryAt === undefined) return data
  return { ...failed, retryAt: was.retryAt } as EventData<T>
}

function answer(l: Launch, outcome: Outcome, state: RunState, values: RunValues, tx: Tx): void {
  const u = l.item === undefined ? state.steps[l.stepId] : state.steps[l.stepId]?.items?.[l.item]
  if (!u || (u.status !== 'running' && u.status !== 'waiting') || u.attempt !== l.attempt) return
  const at = l.item === undefined ? {} : { item: l.item }
  if (outcome.kind === 'completed') {
    tx.emit('step.completed', { stepId: l.stepId, ...at, attempt: l.attempt, output: { inline: outcome.value } })
    if (l.item === undefined) values.setStep(l.stepId, outcome.value)
    else values.setItem(l.stepId, l.item, outcome.value)
    return
  }
  tx.emit('step.failed', {
    stepId: l.stepId,
    ...at,
    attempt: l.attempt,
    error: outcome.error,
    willRetry: outcome.willRetry,
    ...(outcome.retryAt === undefined ? {} : { retryAt: outcome.retryAt }),
  })
}

function attemptKey(stepId: string, item: number | undefined, attempt: number): string {
  return `${stepId}#${item ?? ''}#${attempt}`
}

/** Per step (and foreach item): what happened, in order, without ids, times or blob-vs-inline. */
async function traces(
  events: readonly StoredEvent[],
  blobs: BlobStore,
  tenant: RunState['tenant'],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  const digest = async (p: Payload | undefined) =>
    p === undefined
      ? '-'
      : createHash('sha256')
          .update(canonicalJson(await resolvePayload(blobs, tenant, p)))
          .digest('hex')
          .slice(0, 16)
  for (const e of events) {
    let line: string
    switch (e.type) {
      case 'step.started':
        line = `started #${e.data.attempt} input ${await digest(e.data.input)}`
        break
      case 'step.completed':
        line = `completed #${e.data.attempt} output ${await digest(e.data.output)}`
        break
      case 'step.failed':
        line = `failed #${e.data.attempt} ${e.data.error.code}${e.data.willRetry ? ' (will retry)' : ''}`
        break
      case 'step.skipped':
        line = `skipped: ${e.data.reason}`
        break
      case 'step.waiting':
        if (e.data.for === 'child') continue
        line = `waiting #${e.data.attempt} for ${e.data.for}${e.data.prompt === undefined ? '' : ` ${createHash('sha256').update(e.data.prompt).digest('hex').slice(0, 16)}`}`
        break
      case 'run.completed':
        line = `run completed, output ${await digest(e.data.output)}`
        break
      case 'run.failed':
        line = `run failed at ${e.data.failedStep ?? '-'}: ${e.data.error.code}`
        break
      default:
        continue
    }
    const key =
      'stepId' in e.data ? `step ${e.data.stepId}${e.data.item === undefined ? '' : `[${e.data.item}]`}` : 'run'
    const list = out.get(key) ?? []
    list.push(line)
    out.set(key, list)
  }
  return out
}

async function compare(
  recorded: readonly StoredEvent[],
  replayed: readonly StoredEvent[],
  blobs: BlobStore,
  tenant: RunState['tenant'],
): Promise<string[]> {
  const a = await traces(recorded, blobs, tenant)
  const b = await traces(replayed, blobs, tenant)
  const mismatches: string[] = []
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key) ?? []
    const y = b.get(key) ?? []
    const n = Math.max(x.length, y.length)
    for (let i = 0; i < n; i++) {
      if (x[i] !== y[i]) {
        mismatches.push(
          `${key}: the log has ${x[i] ? `"${x[i]}"` : 'nothing'}, the replay ${y[i] ? `"${y[i]}"` : 'nothing'}`,
        )
        break
      }
    }
  }
  return mismatches
}
