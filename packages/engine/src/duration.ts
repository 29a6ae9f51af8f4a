import { ShiiooError } from '@shiioo/core'

/** Milliseconds per duration unit. */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
export type DurationUnit = keyof typeof UNIT_MS

export const DURATION_PATTERN = /^(0|[1-9][0-9]{0,11})(ms|s|m|h|d)$/

/** The longest duration a definition may declare (timers, timeouts, backoff): 366 days. */
export const MAX_DURATION_MS = 366 * UNIT_MS.d

/** A duration as written in a definition: "500ms", "30s", "5m", "2h", "1d", or a number of milliseconds. */
export type DurationInput = string | number

/** Parses a duration to milliseconds, or returns undefined when it is not one. */
export function tryParseDuration(value: DurationInput): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 && value <= MAX_DURATION_MS ? value : undefined
  }
  const match = DURATION_PATTERN.exec(value)
  if (!match) return undefined
  const ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit]
  return ms <= MAX_DURATION_MS ? ms : undefined
}

/** Parses a duration to milliseconds; throws INVALID_INPUT naming the accepted forms. */
export function parseDuration(value: DurationInput): number {
  const ms = tryParseDuration(value)
  if (ms === undefined) {
    throw new ShiiooError('INVALID_INPUT', `${JSON.stringify(value)} is not valid: ${DURATION_HINT}`, {
      details: { value },
    })
  }
  return ms
}

export const DURATION_HINT =
  'a duration is a whole number with a unit ("500ms", "30s", "5m", "2h", "1d") or a number of milliseconds, at most 366d'

/** Formats milliseconds with the largest unit that divides them: 90000 -> "90s", 7200000 -> "2h". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms !== 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`
  }
  return `${ms}ms`
}
