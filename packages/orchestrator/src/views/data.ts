import type { ProjectResult, VerifyFinding, VerifyProgress, VerifyReport } from '@shiioo/core'

/** What `verify` found: counts, every bad record (`problems[0]` is the first) and warnings. */
export type VerifyReportView = VerifyReport
export type VerifyFindingView = VerifyFinding
/** Streams or blobs checked so far; their number is not known up front. */
export type VerifyProgressView = VerifyProgress

export interface IndexRebuildProgressView {
  /** Streams folded so far. */
  streams: number
  /** Streams to fold; null while they are still being counted. */
  totalStreams: number | null
  events: number
}

export interface IndexRebuildView {
  streams: number
  events: number
  runs: number
  /** Damaged streams left out of the index; the rest of it is built. */
  failed: Array<{ tenant: string; stream: string; message: string }>
  seconds: number
}

/** What an index catch-up folded in (the streams other processes wrote meanwhile). */
export interface IndexCatchUpView {
  streams: number
  events: number
  runs: number
  failed: Array<{ tenant: string; stream: string; message: string }>
}

export function toIndexCatchUpView(r: ProjectResult): IndexCatchUpView {
  return {
    streams: r.streams,
    events: r.events,
    runs: r.runs,
    failed: r.failed.map((f) => ({ tenant: f.tenant, stream: f.stream, message: f.message })),
  }
}
