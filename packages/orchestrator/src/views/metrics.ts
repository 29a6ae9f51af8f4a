import type { RunStatus } from '@shiioo/core'
import type { CostRowView } from '../run/types.js'
import type { CapacityPoolView } from './capacity.js'

/** A tenant's totals now, for a metrics endpoint. */
export interface MetricsSnapshotView {
  tenant: string
  /** Runs by status, as the index holds them. */
  runs: Record<RunStatus, number>
  /** Model calls, tokens and cost by model (`key`), from the cost ledger: they only grow. */
  llm: CostRowView[]
  pool: CapacityPoolView
}

/** Something the live feed showed ending: a step attempt (with its latency) or a run. */
export type MetricsObservationView =
  { kind: 'step-ended'; status: 'completed' | 'failed'; seconds: number } | { kind: 'run-ended'; status: RunStatus }
