import {
  RUN_STATUSES,
  STEP_STATUSES,
  ShiiooError,
  isRunId,
  type ErrorInfo,
  type RunId,
  type RunStatus,
  type StepStatus,
  type StepSummary,
} from '@shiioo/core'

const ISO_SHAPE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/
const UTC_INSTANT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/

/**
 * A fixed-width UTC form of an ISO instant (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`) whose text order is
 * time order, so `2025-01-01T00:00:00Z` and `2025-01-01T00:00:00.000Z` compare equal.
 */
export function instantKey(value: string, field: string): string {
  const bad = () =>
    new ShiiooError('INVALID_INPUT', `${field} "${clip(value)}" is not an ISO-8601 instant`, { details: { field } })
  if (typeof value !== 'string' || !ISO_SHAPE.test(value)) throw bad()
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw bad()
  // keep sub-millisecond digits of UTC instants exact; anything with an offset goes through Date
  const m = UTC_INSTANT.exec(value) ?? UTC_INSTANT.exec(new Date(ms).toISOString())
  if (!m) throw bad()
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`
}

const CURSOR_TAG = 'v1:'
const BASE64URL = /^[A-Za-z0-9_-]+$/

/** An opaque keyset cursor: the last run id of a page, tagged with the cursor format. */
export function encodeCursor(runId: RunId): string {
  return Buffer.from(CURSOR_TAG + runId, 'utf8').toString('base64url')
}

export function decodeCursor(cursor: string): RunId {
  const bad = () =>
    new ShiiooError('INVALID_INPUT', 'cursor is not a cursor returned by a previous page', {
      details: { field: 'cursor' },
    })
  if (typeof cursor !== 'string' || cursor.length > 200 || !BASE64URL.test(cursor)) throw bad()
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!text.startsWith(CURSOR_TAG)) throw bad()
  const runId = text.slice(CURSOR_TAG.length)
  // the canonical re-encoding must match, so no two strings name the same position
  if (!isRunId(runId) || encodeCursor(runId) !== cursor) throw bad()
  return runId
}

export function parseLimit(limit: number | undefined): number {
  if (limit === undefined) return 50
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new ShiiooError('INVALID_INPUT', `limit must be an integer from 1 to 500 (got ${String(limit)})`, {
      details: { field: 'limit' },
    })
  }
  return limit
}

export function parseStatus(status: string): RunStatus {
  if (!(RUN_STATUSES as readonly string[]).includes(status)) {
    throw new ShiiooError('INVALID_INPUT', `status "${clip(status)}" is not one of ${RUN_STATUSES.join(', ')}`, {
      details: { field: 'status' },
    })
  }
  return status as RunStatus
}

/** Checks a status read back from the database; anything else means the file was tampered with. */
export function storedRunStatus(value: string, runId: string): RunStatus {
  if ((RUN_STATUSES as readonly string[]).includes(value)) return value as RunStatus
  throw new ShiiooError('DATA_CORRUPTED', `index row for run ${runId} has unknown status "${clip(value)}"`)
}

type StepTuple = [string, string, number, string | null, string | null, ErrorInfo | null]

/**
 * A run's steps are kept on its row as one compact JSON array of tuples
 * `[stepId, status, attempts, startedAt, endedAt, error]`: they are always read and written with
 * their run, and tuples are half the size of objects (a rebuild writes every row).
 */
export function stepsToJson(steps: readonly StepSummary[]): string {
  return JSON.stringify(steps.map((s): StepTuple => [s.stepId, s.status, s.attempts, s.startedAt, s.endedAt, s.error]))
}

export function stepsFromJson(json: string, runId: string): StepSummary[] {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch (cause) {
    throw new ShiiooError('DATA_CORRUPTED', `index row for run ${runId} has unreadable steps`, { cause })
  }
  if (!Array.isArray(value)) throw new ShiiooError('DATA_CORRUPTED', `index row for run ${runId} has unreadable steps`)
  return (value as unknown[]).map((t) => {
    if (!Array.isArray(t) || t.length !== 6 || !(STEP_STATUSES as readonly string[]).includes(t[1] as string)) {
      throw new ShiiooError('DATA_CORRUPTED', `index row for run ${runId} has a step with an unknown shape or status`)
    }
    const [stepId, status, attempts, startedAt, endedAt, error] = t as StepTuple
    return { stepId, status: status as StepStatus, attempts, startedAt, endedAt, error }
  })
}

function clip(value: unknown): string {
  const printable = String(value).replace(/[^\x20-\x7e]/g, '?')
  return printable.length > 80 ? printable.slice(0, 77) + '...' : printable
}
