import type { ErrorInfo, Json, Payload } from '@shiioo/core'

/**
 * A value as an API client receives it: inline JSON, or a reference to a blob of the run's tenant
 * (fetch it with `runs.payload`). The same two shapes as in events, so a client reads one format.
 */
export type PayloadView = { inline: Json } | { blob: string; size: number; contentType: string }

export interface ErrorView {
  /** A `ShiiooError` code, or one of the engine's step codes (`TIMEOUT`, `REJECTED`, ...). */
  code: string
  message: string
  retryable: boolean
}

/** Calls to models and what they cost, as the cost ledger sums them. */
export interface CostView {
  calls: number
  inputTokens: number
  outputTokens: number
  /** In the configured price unit (US dollars unless configured otherwise). */
  cost: number
}

export function toPayloadView(p: Payload | null | undefined): PayloadView | null {
  if (p === null || p === undefined) return null
  if ('inline' in p) return { inline: p.inline }
  return { blob: p.blob, size: p.size, contentType: p.contentType }
}

export function toErrorView(e: ErrorInfo | null): ErrorView | null {
  return e === null ? null : { code: e.code, message: e.message, retryable: e.retryable }
}

/** The milliseconds from one ISO instant to another; null while either is unknown. */
export function spanMs(from: string | null, to: string | null): number | null {
  return from === null || to === null ? null : Date.parse(to) - Date.parse(from)
}
