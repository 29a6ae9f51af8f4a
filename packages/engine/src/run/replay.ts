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

type Outcome =
  { kind: 'completed'; value: Json } | { kind: 'failed'; error: ErrorInfo; willRetry: boolean; retryAt?: string }

const MAX_TURNS = 100_000

/**
 * Replays a finished run: the current scheduler runs again over the run's definition, with every
 * agent, tool and child-run attempt answered by the outcome the log recorded for it, signals as
 * recorded, and time moved from timer to timer. It calls nothing. The replay must make the same
 * decisions (starts, inputs, skips, waits, outputs, retries) and reach the same end; each
 * difference is reported.
 */
export async function replayRun(
  events: readonly StoredEvent[],
  compiled: CompiledWorkflow,
  blobs: BlobStore,
): Promise<ReplayReport> {
  const recorded = foldRunState(events)
  if (!isTerminal(recorded.status)) {
    throw new ShiiooError('CONFLICT', `run ${recorded.runId} is ${recorded.status}; replay needs a finished run`)
  }
  const tenant = recorded.tenant
  const outcomes = new Map<string, Outcome>()
  for (const e of events) {
    if (e.type === 'step.completed') {
      outcomes.set(attemptKey(e.data.stepId, e.data.item, e.data.attempt), {
        kind: 'completed',
        value: await resolvePayload(blobs, tenant, e.data.output),
      })
    } else if (e.type === 'step.failed') {
      outcomes.set(attemptKey(e.data.stepId, e.data.item, e.data.attempt), {
        kind: 'failed',
        error: e.data.error,
        willRetry: e.data.willRetry,
        ...(e.data.retryAt === undefined ? {} : { retryAt: e.data.retryAt }),
      })
    }
  }
  // the run as it began, with every signal it received (a wait matches signals in log order, whenever they came)
  const seed = [events[0]!, ...events.filter((e) => e.type === 'approval.decided' || e.type === 'event.received')]
  const replayed: StoredEvent[] = seed.map((e, i) => ({ ...e, seq: i + 1 }))
  const state = foldRunState(replayed)
  const inputs = await resolvePayload(blobs, tenant, state.input)
  const values = new RunValues(inputs !== null && typeof inputs === 'object' && !Array.isArray(inputs) ? inputs : {})
  for (const e of replayed) {
    if (e.type === 'event.received') values.setEvent(e.seq, await resolvePayload(blobs, tenant, e.data.payload))
  }
  let now = Date.parse(state.startedAt)
  const tx: Tx = {
    emit<T extends EventType>(type: T, data: EventData<T>) {
      const e = newEvent(type, data, {
        id: 'evt_00000000000000000000000000' as never,
        at: new Date(now),
        actor: ENGINE_ACTOR,
      })
      const stored = { ...e, stream: state.runId, seq: state.version + 1, tenant } as StoredEvent
      applyRunEvent(state, stored)
      replayed.push(stored)
    },
  }
  let due: Launch[] = []
  let turns = 0
  for (; turns < MAX_TURNS && !isTerminal(state.status); turns++) {
    const before = state.version
    const answering = due
    for (const l of answering) answer(l, outcomes.get(attemptKey(l.stepId, l.item, l.attempt)), state, values, tx)
    const result = plan(
      state,
      { compiled, values, now, maxParallel: Number.MAX_SAFE_INTEGER, takeSlot: () => true, random: () => 0.5 },
      tx,
    )
    const unanswered = result.launches.filter((l) => !outcomes.has(attemptKey(l.stepId, l.item, l.attempt)))
    due = result.launches.filter((l) => outcomes.has(attemptKey(l.stepId, l.item, l.attempt)))
    if (due.length > 0 || state.version > before) continue
    if (result.wakeAt !== null && unanswered.length === 0) {
      now = Math.max(now + 1, result.wakeAt)
      continue
    }
    // Nothing left that the log answers: a run cancelled (or failed from outside) while this was pending.
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

function answer(l: Launch, outcome: Outcome | undefined, state: RunState, values: RunValues, tx: Tx): void {
  if (!outcome) return
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
