export const VALIDATION_ERROR_CODES = [
  /** The text is not valid YAML or JSON. */
  'syntax',
  /** A required field is absent. */
  'missing_field',
  /** A field the object does not have. */
  'unknown_field',
  /** A field has the wrong type, format or range. */
  'invalid_field',
  /** A step kind that does not exist. */
  'unknown_kind',
  /** Two steps share an id. */
  'duplicate_id',
  /** `needs` names a step that does not exist. */
  'unknown_need',
  /** `needs` names the same step twice. */
  'duplicate_need',
  /** A step needs itself. */
  'self_dependency',
  /** Steps need each other in a circle. */
  'cycle',
  /** A definition over a configured limit (steps, depth, needs, expression length, bytes). */
  'limit_exceeded',
  /** An expression or template that does not parse. */
  'expression_syntax',
  /** An expression that does not type-check, reads an unknown variable or yields the wrong type. */
  'expression_type',
  /** An expression reads a step or input that does not exist, or a step that is not an ancestor. */
  'unknown_reference',
  /** An expression reads a step that exists but is not among the reading step's dependencies. */
  'not_ancestor',
  /** A wait step without exactly one of duration, until or event. */
  'wait_target',
  /** A foreach body with an id, needs, or kind foreach. */
  'foreach_body',
  /** An input default that does not match its declared type. */
  'input_default',
] as const

export type ValidationErrorCode = (typeof VALIDATION_ERROR_CODES)[number]

export interface ValidationError {
  /** Where the problem is, e.g. `steps[2].needs[0]`; empty for the whole document. */
  readonly path: string
  readonly code: ValidationErrorCode
  readonly message: string
  /** 1-based position in the source text, when the definition was parsed from text. */
  readonly line?: number
  readonly column?: number
}

export type PathSegment = string | number

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** `['steps', 2, 'needs', 0]` -> `steps[2].needs[0]`; keys that are not identifiers are quoted. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = ''
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out
}

/** Inverse of formatPath, for locating errors in source text. */
export function parsePath(path: string): PathSegment[] {
  const segments: PathSegment[] = []
  const re = /(?:^|\.)([A-Za-z_$][A-Za-z0-9_$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/gy
  let match: RegExpExecArray | null
  while ((match = re.exec(path)) !== null && match[0] !== '') {
    if (match[1] !== undefined) segments.push(match[1])
    else if (match[2] !== undefined) segments.push(Number(match[2]))
    else if (match[3] !== undefined) segments.push(JSON.parse(match[3]) as string)
  }
  return segments
}

function comparePaths(a: string, b: string): number {
  const pa = parsePath(a)
  const pb = parsePath(b)
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!
    const y = pb[i]!
    if (x === y) continue
    if (typeof x === 'number' && typeof y === 'number') return x - y
    if (typeof x === 'number') return -1
    if (typeof y === 'number') return 1
    return x < y ? -1 : 1
  }
  return pa.length - pb.length
}

/** Sorted by path (array indexes numerically), then code and message; exact duplicates dropped. */
export function sortErrors(errors: readonly ValidationError[]): ValidationError[] {
  const seen = new Set<string>()
  return [...errors]
    .sort(
      (a, b) =>
        comparePaths(a.path, b.path) ||
        (a.code < b.code ? -1 : a.code > b.code ? 1 : 0) ||
        (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
    )
    .filter((e) => {
      const key = `${e.path}\u0000${e.code}\u0000${e.message}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
}

/** One line per error: `steps[2].needs[0] (line 14, column 9): step "b" needs ...`. */
export function formatValidationErrors(errors: readonly ValidationError[]): string {
  return errors
    .map((e) => {
      const where = e.line === undefined ? '' : ` (line ${e.line}, column ${e.column ?? 1})`
      return `${e.path === '' ? '(document)' : e.path}${where}: ${e.message}`
    })
    .join('\n')
}

/** Edit distance counting an insertion, deletion, substitution or swap of neighbours as one edit. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)]
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let value = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, rows[i - 2]![j - 2]! + 1)
      }
      row.push(value)
    }
    rows.push(row)
  }
  return rows[a.length]![b.length]!
}

/**
 * The candidate closest to `name` within edit distance 2 (the first one on ties), if any; a
 * distance must also be under half the name's length, so `zz` suggests nothing rather than `a`.
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    if (candidate === name || Math.abs(candidate.length - name.length) > 2) continue
    const d = editDistance(name, candidate)
    if (d <= 2 && d < name.length / 2 && d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}

/** ` (did you mean "fetch"?)` or nothing. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const suggestion = closest(name, candidates)
  return suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`
}

/** `a, b, c` with at most `max` names shown. */
export function listNames(names: readonly string[], max = 12): string {
  if (names.length <= max) return names.join(', ')
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`
}
