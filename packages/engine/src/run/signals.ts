import type { Actor, Clock, EventData, EventType, IdFactory, Json, NewEvent } from '@shiioo/core'
import { ShiiooError, eventSchemas, newEvent } from '@shiioo/core'
import type { CompiledWorkflow } from '../compile.js'
import { EVENT_NAME } from '../names.js'
import { DEFAULT_MAX_VALUE_BYTES, valueProblem } from '../value-limits.js'
import { ENGINE_ACTOR } from './host.js'
import type { RunState } from './state.js'
import { isTerminal, isUnitDone, unitState } from './state.js'

/** Something from outside a run that its log records: a decision, an event, or a change of course. */
export type Signal =
  | { kind: 'decision'; stepId: string; item?: number; decision: 'approve' | 'reject'; comment?: string }
  | { kind: 'event'; name: string; payload?: Json }
  | { kind: 'pause'; reason?: string }
  | { kind: 'resume' }
  | { kind: 'cancel'; reason: string }

type EventSpec = { [T in EventType]: { type: T; data: EventData<T> } }[EventType]

/**
 * The events a signal appends to a run in its current state, or a typed error saying why it
 * cannot: CONFLICT when the run or step is past it, INVALID_INPUT for a malformed signal (a step
 * that is not there or not an approval, an event payload the log could not hold). A decision may
 * arrive before its approval step waits. What it returns is what the log takes: a signal the log
 * would refuse must be refused here, or the commit it joins (the run's own) would fail.
 */
export function signalEvents(
  state: RunState,
  compiled: CompiledWorkflow,
  signal: Signal,
  maxValueBytes: number = DEFAULT_MAX_VALUE_BYTES,
): EventSpec[] {
  if (isTerminal(state.status)) throw new ShiiooError('CONFLICT', `run ${state.runId} already ${state.status}`)
  const events = eventsOf(state, compiled, signal, maxValueBytes)
  for (const e of events) {
    const checked = eventSchemas[e.type].data.safeParse(e.data)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      const where = issue?.path.join('.') ?? ''
      throw new ShiiooError(
        'INVALID_INPUT',
        `the ${signal.kind} cannot be recorded: ${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}`,
      )
    }
  }
  return events
}

function eventsOf(state: RunState, compiled: CompiledWorkflow, signal: Signal, maxValueBytes: number): EventSpec[] {
  switch (signal.kind) {
    case 'decision':
      return [decision(state, compiled, signal)]
    case 'event':
      if (!EVENT_NAME.test(signal.name)) {
        throw new ShiiooError(
          'INVALID_INPUT',
          `event name "${signal.name}" is not lowercase letters, digits, _, . or -`,
        )
      }
      if (signal.payload !== undefined) {
        const problem = valueProblem(signal.payload, maxValueBytes)
        if (problem) throw new ShiiooError('INVALID_INPUT', `the payload of event "${signal.name}" ${problem.message}`)
      }
      return [
        {
          type: 'event.received',
          data: { name: signal.name, ...(signal.payload === undefined ? {} : { payload: { inline: signal.payload } }) },
        },
      ]
    case 'pause':
      if (state.status === 'paused') throw new ShiiooError('CONFLICT', `run ${state.runId} is already paused`)
      return [{ type: 'run.paused', data: signal.reason === undefined ? {} : { reason: signal.reason.slice(0, 1000) } }]
    case 'resume':
      if (state.status !== 'paused') throw new ShiiooError('CONFLICT', `run ${state.runId} is not paused`)
      return [{ type: 'run.resumed', data: {} }]
    case 'cancel':
      return [{ type: 'run.cancelled', data: { reason: signal.reason.slice(0, 1000) || 'cancelled' } }]
  }
}

function decision(
  state: RunState,
  compiled: CompiledWorkflow,
  signal: Extract<Signal, { kind: 'decision' }>,
): EventSpec {
  const step = compiled.steps.get(signal.stepId)?.step
  const approvals = [...compiled.steps.values()]
    .filter((s) => s.step.kind === 'approval' || (s.step.kind === 'foreach' && s.step.step.kind === 'approval'))
    .map((s) => s.step.id)
  if (!step) {
    // a bad argument, as a step that is not an approval is (the run exists; fork says the same)
    throw new ShiiooError(
      'INVALID_INPUT',
      `run ${state.runId} has no step "${signal.stepId}"; approval steps: ${approvals.join(', ') || 'none'}`,
      { details: { field: 'stepId' } },
    )
  }
  const perItem = step.kind === 'foreach' && step.step.kind === 'approval'
  if (step.kind !== 'approval' && !perItem) {
    throw new ShiiooError(
      'INVALID_INPUT',
      `step "${signal.stepId}" is ${/^[aeiou]/.test(step.kind) ? 'an' : 'a'} ${step.kind} step, not an approval; approval steps: ${approvals.join(', ') || 'none'}`,
      { details: { field: 'stepId' } },
    )
  }
  if (perItem && signal.item === undefined)
    throw new ShiiooError('INVALID_INPUT', `step "${signal.stepId}" asks per item: say which item`)
  if (!perItem && signal.item !== undefined)
    throw new ShiiooError('INVALID_INPUT', `step "${signal.stepId}" has no items`)
  if (signal.item !== undefined && (!Number.isSafeInteger(signal.item) || signal.item < 0)) {
    throw new ShiiooError('INVALID_INPUT', `item must be a whole number from 0, not ${signal.item}`)
  }
  const where = signal.item === undefined ? `step "${signal.stepId}"` : `item ${signal.item} of step "${signal.stepId}"`
  const previous = state.decisions.find((d) => d.stepId === signal.stepId && d.item === signal.item)
  if (previous)
    throw new ShiiooError('CONFLICT', `${where} was already decided (${previous.decision} by ${previous.actor.id})`)
  const u = state.steps[signal.stepId] ? unitState(structuredClone(state), signal.stepId, signal.item) : null
  if (u && isUnitDone(u.status)) throw new ShiiooError('CONFLICT', `${where} is already ${u.status}`)
  return {
    type: 'approval.decided',
    data: {
      stepId: signal.stepId,
      ...(signal.item === undefined ? {} : { item: signal.item }),
      decision: signal.decision,
      ...(signal.comment === undefined ? {} : { comment: signal.comment.slice(0, 4000) }),
    },
  }
}

/** Makes events stamped by the clock with fresh ids, as `actor` (the engine by default). */
export function eventFactory(ids: IdFactory, clock: Clock, actor: Actor = ENGINE_ACTOR) {
  return <T extends EventType>(type: T, data: EventData<T>): NewEvent =>
    newEvent(type, data, { id: ids.eventId(), at: new Date(clock.now()), actor }) as NewEvent
}
