import { RUN_ID } from '../ids.js'
import type { EventType } from './catalog.js'
import { MAX_ITEM_INDEX, STEP_ID } from './catalog.js'
import { BLOB_KEY, isJson } from './payload.js'

/**
 * Hand-written checks of the event types every step writes and reads, run before the catalog's zod
 * schema: zod builds a parsed copy of every value it checks (about a tenth of what a step
 * allocates), while these only look. They are allowed to refuse more than the schema (the schema
 * then decides, and names the problem), never to accept anything it refuses; a property test holds
 * them to that (`fast-checks.test.ts`). All these schemas are strict, so data they accept is the
 * schema's own result.
 */
type Check = (data: unknown) => boolean

type Plain = Record<string, unknown>

function plain(v: unknown): v is Plain {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v) as unknown
  return proto === Object.prototype || proto === null
}

/** Every own key is one of `allowed`, and those in `required` are present (with any value). */
function keysWithin(o: Plain, allowed: readonly string[], required: readonly string[] = []): boolean {
  for (const k in o) if (!allowed.includes(k)) return false
  for (const k of required) if (!(k in o)) return false
  return true
}

const str = (v: unknown, min: number, max: number): boolean =>
  typeof v === 'string' && v.length >= min && v.length <= max
const stepId = (v: unknown): boolean => typeof v === 'string' && STEP_ID.test(v)
const runRef = (v: unknown): boolean => typeof v === 'string' && RUN_ID.test(v)
const item = (v: unknown): boolean =>
  v === undefined || (Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_ITEM_INDEX)
const attempt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0

function payload(v: unknown): boolean {
  if (v === undefined) return true
  if (!plain(v)) return false
  if ('inline' in v) return keysWithin(v, ['inline']) && isJson(v.inline)
  return (
    keysWithin(v, ['blob', 'size', 'contentType'], ['blob', 'size', 'contentType']) &&
    typeof v.blob === 'string' &&
    BLOB_KEY.test(v.blob) &&
    Number.isSafeInteger(v.size) &&
    (v.size as number) >= 0 &&
    str(v.contentType, 0, 100)
  )
}

const ATTEMPT_KEYS = ['stepId', 'item', 'attempt']

export const fastChecks: Partial<Record<EventType, Check>> = {
  'run.started': (d) => {
    if (!plain(d) || !keysWithin(d, ['workflow', 'input', 'idempotencyKey', 'parent', 'forkOf'], ['workflow']))
      return false
    const w = d.workflow
    if (!plain(w) || !keysWithin(w, ['name', 'hash'], ['name', 'hash'])) return false
    if (!str(w.name, 1, 200) || typeof w.hash !== 'string' || !BLOB_KEY.test(w.hash)) return false
    if (d.idempotencyKey !== undefined && !str(d.idempotencyKey, 1, 200)) return false
    // rarer shapes (a sub-workflow's parent, a fork) are left to the schema
    return d.parent === undefined && d.forkOf === undefined && payload(d.input)
  },
  'step.started': (d) =>
    plain(d) &&
    keysWithin(d, [...ATTEMPT_KEYS, 'idempotencyKey', 'input'], ['stepId', 'attempt', 'idempotencyKey']) &&
    stepId(d.stepId) &&
    item(d.item) &&
    attempt(d.attempt) &&
    str(d.idempotencyKey, 1, 300) &&
    payload(d.input),
  'step.completed': (d) =>
    plain(d) &&
    keysWithin(d, [...ATTEMPT_KEYS, 'output', 'reusedFrom'], ['stepId', 'attempt']) &&
    stepId(d.stepId) &&
    item(d.item) &&
    attempt(d.attempt) &&
    payload(d.output) &&
    (d.reusedFrom === undefined || runRef(d.reusedFrom)),
  'run.completed': (d) => plain(d) && keysWithin(d, ['output']) && payload(d.output),
}
