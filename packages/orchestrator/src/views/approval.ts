import type { PayloadView } from './payload.js'

/** An approval step (or one foreach item of it) waiting for a decision. */
export interface PendingApprovalView {
  runId: string
  tenant: string
  workflow: { name: string; hash: string }
  stepId: string
  /** The foreach item that waits, or null for the step itself. */
  item: number | null
  /** The rendered question put to the approvers; null when the log does not hold it. */
  prompt: string | null
  input: PayloadView | null
  /** When the waiting attempt started (ISO-8601 UTC). */
  waitingSince: string | null
  /** When the wait times out, if it does. */
  deadline: string | null
}

export interface PendingApprovalPageView {
  items: PendingApprovalView[]
  /** Pass it back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null
}
