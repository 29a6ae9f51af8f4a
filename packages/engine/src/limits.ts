import { ShiiooError } from '@shiioo/core'

/** Bounds on what one definition may declare; exceeding any is a validation error naming it. */
export interface ValidationLimits {
  /** Steps in the workflow (a foreach body counts as part of its step). */
  readonly maxSteps: number
  /** Steps in the longest chain of steps each needing the previous one. */
  readonly maxDepth: number
  /** Entries in one step's needs. */
  readonly maxNeedsPerStep: number
  /** Characters in one expression (a bare CEL field or one `${{ }}`). */
  readonly maxExpressionLength: number
  /** Bytes of the definition as UTF-8 JSON (or of the source text when parsed from text). */
  readonly maxDefinitionBytes: number
  /**
   * Levels of lists and maps nested in the definition (its own structure and the values it holds):
   * at most MAX_NESTING_LIMIT, since parsing and validating recurse once per level.
   */
  readonly maxNesting: number
}

/** The highest maxNesting: deeper documents come near the call stack's end in the YAML parser. */
export const MAX_NESTING_LIMIT = 256

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = Object.freeze({
  maxSteps: 500,
  maxDepth: 100,
  maxNeedsPerStep: 50,
  maxExpressionLength: 4096,
  maxDefinitionBytes: 1024 * 1024,
  maxNesting: 128,
})

/** Defaults overridden by the given limits; a limit that is not a positive integer is a caller bug. */
export function resolveLimits(overrides: Partial<ValidationLimits> = {}): ValidationLimits {
  const limits = { ...DEFAULT_VALIDATION_LIMITS, ...overrides }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new ShiiooError('INVALID_INPUT', `validation limit ${name} must be a positive integer, not ${value}`, {
        details: { field: name },
      })
    }
  }
  if (limits.maxNesting > MAX_NESTING_LIMIT) {
    throw new ShiiooError(
      'INVALID_INPUT',
      `validation limit maxNesting must be at most ${MAX_NESTING_LIMIT} (deeper documents would overflow the parser), not ${limits.maxNesting}`,
      { details: { field: 'maxNesting' } },
    )
  }
  return limits
}
