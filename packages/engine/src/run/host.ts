import type { Actor, BlobStore, Clock, EventId, EventLog, Json, Logger } from '@shiioo/core'
import type { Launch } from './plan.js'
import type { AgentRunner, ToolInvoker } from './ports.js'
import type { Slots } from './slots.js'
import type { StreamWatch } from './stream-watch.js'
import type { RunState } from './state.js'

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
  /** Tells a run when another process appended to its stream (a decision, a signal, a cancel). */
  streams: StreamWatch
  /** Most events in one commit; a larger fan-out goes over several (the log limits an append). */
  maxEventsPerCommit: number
  /** Largest value (an input or output) recorded, in bytes of JSON; a larger one fails its step. */
  maxValueBytes: number
  agents: AgentRunner
  tools: ToolInvoker
  children: ChildRuns
  /**
   * Called once when a driver stops: the run `ended`, or this process stopped driving it
   * (`stopped`: it never was born, or its lease was lost).
   */
  onEnd(driver: { readonly runId: string; readonly state: RunState }, how: 'ended' | 'stopped'): void
}
