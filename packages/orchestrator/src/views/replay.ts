import type { RunStatus } from '@shiioo/core'
import type { ReplayReport } from '@shiioo/engine'

/** What a replay of a finished run found: the current engine re-deciding it from its recorded outcomes. */
export interface ReplayReportView {
  runId: string
  /** True when the replay made every decision the log records and ended the same way. */
  ok: boolean
  /** The recorded final status. */
  status: RunStatus
  replayedStatus: RunStatus
  /** Each difference between the log and the replay, in words. */
  mismatches: string[]
  /** Events in the recorded log. */
  events: number
  /** Scheduler turns the replay took. */
  turns: number
  /** Agent, tool or child-run calls the replay made: always 0, it reuses recorded outcomes. */
  calls: number
}

export function toReplayReportView(r: ReplayReport): ReplayReportView {
  return {
    runId: r.runId,
    ok: r.ok,
    status: r.status,
    replayedStatus: r.replayedStatus,
    mismatches: [...r.mismatches],
    events: r.events,
    turns: r.turns,
    calls: r.calls,
  }
}
