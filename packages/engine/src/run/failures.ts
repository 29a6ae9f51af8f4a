import type { ErrorInfo } from '@shiioo/core'
import { isShiiooError } from '@shiioo/core'
import type { EventData } from '@shiioo/core'
import type { RetryPolicy } from '../schema.js'

/**
 * Step failures carry a code: a ShiiooError code from the layer that failed, or one of these,
 * which only the engine produces.
 */
export const STEP_ERROR_CODES = {
  /** An attempt ran past its step's timeout. */
  TIMEOUT: 'TIMEOUT',
  /** An approver rejected the step. */
  REJECTED: 'REJECTED',
  /** A sub-workflow's child run failed or was cancelled. */
  CHILD_FAILED: 'CHILD_FAILED',
  /** A foreach item failed. */
  ITEM_FAILED: 'ITEM_FAILED',
} as const

const MAX_MESSAGE = 4000

export function errorInfo(code: string, message: string, retryable: boolean): ErrorInfo {
  return {
    code,
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message,
    retryable,
  }
}

/** What a thrown value says about the failure, as recorded in step.failed. */
export function toErrorInfo(error: unknown): ErrorInfo {
  // an engine failure (CHILD_FAILED, MAX_TURNS) names its own step code; it is final
  const stepCode = (error as { stepCode?: unknown } | null)?.stepCode
  if (typeof stepCode === 'string' && error instanceof Error) return errorInfo(stepCode, error.message, false)
  if (isShiiooError(error)) return errorInfo(error.code, error.message, error.retryable)
  const message = error instanceof Error ? error.message : String(error)
  return errorInfo('INTERNAL', message, false)
}

/**
 * Whether a failed attempt gets another, and when: more attempts left and the code in the
 * policy's retryOn. The delay grows by `factor` per attempt up to `max`, spread by `jitter`.
 */
export function retryDecision(
  policy: RetryPolicy,
  attempt: number,
  error: ErrorInfo,
  now: number,
  random: () => number,
): { willRetry: false } | { willRetry: true; retryAt: number } {
  if (attempt >= policy.maxAttempts || !policy.retryOn.includes(error.code)) return { willRetry: false }
  const { initial, factor, max, jitter } = policy.backoff
  const base = Math.min(max, initial * factor ** (attempt - 1))
  const spread = base * jitter * (random() * 2 - 1)
  return { willRetry: true, retryAt: now + Math.max(0, Math.round(base + spread)) }
}

/** A failed attempt's step.failed data, with a retry when the unit's policy allows one. */
export function failedData(
  body: { retry: RetryPolicy },
  stepId: string,
  item: number | undefined,
  attempt: number,
  error: ErrorInfo,
  now: number,
  random: () => number,
): EventData<'step.failed'> {
  const decision = retryDecision(body.retry, attempt, error, now, random)
  return {
    stepId,
    ...(item === undefined ? {} : { item }),
    attempt,
    error,
    willRetry: decision.willRetry,
    ...(decision.willRetry ? { retryAt: new Date(decision.retryAt).toISOString() } : {}),
  }
}
