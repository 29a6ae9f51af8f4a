import type { StoredEvent } from '../events/envelope.js'
import { toShiiooError } from '../errors.js'
import type { StreamId, TenantId } from '../ids.js'
import { streamKind } from '../ids.js'
import type { EventLog } from '../ports/event-log.js'
import type { LlmCall, ProjectedRows, StreamCheckpoint } from '../ports/index-store.js'
import type { ControlProjection } from './control-projection.js'
import { projectControlStream } from './control-projection.js'
import { llmCallsOf } from './llm-calls.js'
import type { RunSummary } from './run-summary.js'
import { foldRun } from './run-summary.js'

/**
 * One stream to bring up to date: read it from `fromSeq` (a run's from 1: it is folded whole, by
 * the one fold of a run's events) and fold it.
 */
export interface FoldTask {
  tenant: TenantId
  stream: StreamId
  token: string
  fromSeq: number
}

export interface FoldOutcome {
  runs: RunSummary[]
  llmCalls: LlmCall[]
  checkpoints: StreamCheckpoint[]
  /** Rows of the control-stream projections the folder was given (none on a worker thread). */
  projected: ProjectedRows[]
  events: number
  failed: Array<{ tenant: TenantId; stream: StreamId; message: string }>
}

/**
 * Folds streams somewhere else than the calling thread (a worker of the filesystem log), so a
 * rebuild reads and folds on one core while the index is written on another.
 */
export interface StreamFolder {
  fold(tasks: readonly FoldTask[]): Promise<FoldOutcome>
  close(): Promise<void>
}

/** Folds one task's events (read from its `fromSeq`) into `out`. */
function foldTaskInto(
  out: FoldOutcome,
  t: FoldTask,
  events: readonly StoredEvent[],
  projections: readonly ControlProjection[],
): void {
  out.events += events.length
  let version = t.fromSeq - 1 + events.length
  if (streamKind(t.stream) === 'run') {
    if (events.length > 0) {
      const next = foldRun(events)!
      out.runs.push(next)
      out.llmCalls.push(...llmCallsOf(events, next.workflow))
      version = next.version
    }
  } else if (events.length > 0) {
    out.projected.push(...projectControlStream(projections, t.tenant, t.stream, events))
  }
  out.checkpoints.push({ tenant: t.tenant, stream: t.stream, version, token: t.token })
}

/**
 * Where a stream is read from: a run is folded whole (the one fold of its events), and so is a
 * control stream a projection folds; other control streams only from where they were left.
 */
export function foldFrom(stream: StreamId, projections: readonly ControlProjection[], checkpoint: number): number {
  return streamKind(stream) === 'run' || projections.some((p) => p.accepts(stream)) ? 1 : checkpoint + 1
}

/**
 * Reads each task's events with `read` (from its `fromSeq`) and folds them. A stream
 * that cannot be read or folded is reported in `failed`; the others are folded all the same.
 */
export async function foldWith(
  read: (t: FoldTask) => readonly StoredEvent[] | Promise<readonly StoredEvent[]>,
  tasks: readonly FoldTask[],
  projections: readonly ControlProjection[] = [],
): Promise<FoldOutcome> {
  const out: FoldOutcome = { runs: [], llmCalls: [], checkpoints: [], projected: [], events: 0, failed: [] }
  for (const t of tasks) {
    try {
      foldTaskInto(out, t, await read(t), projections)
    } catch (err) {
      out.failed.push({ tenant: t.tenant, stream: t.stream, message: toShiiooError(err).message })
    }
  }
  return out
}

/** Reads each task's stream from the log and folds it: the catch-up routine. */
export function foldStreams(
  log: EventLog,
  tasks: readonly FoldTask[],
  projections: readonly ControlProjection[] = [],
): Promise<FoldOutcome> {
  // the events were validated when appended; the log's checksums cover them since
  return foldWith(
    (t) => log.read({ tenant: t.tenant, stream: t.stream, fromSeq: t.fromSeq, validation: 'checksum' }),
    tasks,
    projections,
  )
}
