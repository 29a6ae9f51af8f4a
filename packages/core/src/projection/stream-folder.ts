import type { StoredEvent } from '../events/envelope.js'
import { toShiiooError } from '../errors.js'
import type { StreamId, TenantId } from '../ids.js'
import { streamKind } from '../ids.js'
import type { EventLog } from '../ports/event-log.js'
import type { LlmCall, StreamCheckpoint } from '../ports/index-store.js'
import { llmCallsOf } from './llm-calls.js'
import type { RunSummary } from './run-summary.js'
import { foldRun } from './run-summary.js'

/** One stream to bring up to date: read it from `fromSeq` and fold onto `base`. */
export interface FoldTask {
  tenant: TenantId
  stream: StreamId
  token: string
  fromSeq: number
  base: RunSummary | null
}

export interface FoldOutcome {
  runs: RunSummary[]
  llmCalls: LlmCall[]
  checkpoints: StreamCheckpoint[]
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

export function emptyOutcome(): FoldOutcome {
  return { runs: [], llmCalls: [], checkpoints: [], events: 0, failed: [] }
}

/** Folds one task's events (read from its `fromSeq`) into `out`. */
export function foldTaskInto(out: FoldOutcome, t: FoldTask, events: readonly StoredEvent[]): void {
  out.events += events.length
  let version = t.fromSeq - 1 + events.length
  if (streamKind(t.stream) === 'run' && events.length > 0) {
    const next = foldRun(events, t.base)!
    out.runs.push(next)
    out.llmCalls.push(...llmCallsOf(events, next.workflow))
    version = next.version
  }
  out.checkpoints.push({ tenant: t.tenant, stream: t.stream, version, token: t.token })
}

export function failTaskInto(out: FoldOutcome, t: FoldTask, err: unknown): void {
  out.failed.push({ tenant: t.tenant, stream: t.stream, message: toShiiooError(err).message })
}

/** Reads each task's stream from its `fromSeq` and folds it onto its base: the catch-up routine. */
export async function foldStreams(log: EventLog, tasks: readonly FoldTask[]): Promise<FoldOutcome> {
  const out = emptyOutcome()
  for (const t of tasks) {
    try {
      // the events were validated when appended; the log's checksums cover them since
      const events = await log.read({ tenant: t.tenant, stream: t.stream, fromSeq: t.fromSeq, validation: 'checksum' })
      foldTaskInto(out, t, events)
    } catch (err) {
      failTaskInto(out, t, err)
    }
  }
  return out
}
