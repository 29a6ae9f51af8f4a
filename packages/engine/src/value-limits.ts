import { MAX_JSON_DEPTH } from '@shiioo/core'

/**
 * What the event log can hold of a value (an input, an output, a rendered template): plain JSON,
 * nested at most MAX_JSON_DEPTH levels (the event schemas' limit), and no larger than a blob may
 * be. Checked before a value reaches an event, so a value the log would refuse fails its step (or
 * the start) with a message naming the limit instead of failing the commit it is in.
 */
export const MAX_VALUE_DEPTH = MAX_JSON_DEPTH

/** The largest value recorded (as a blob when over the inline limit): the file blob store's own limit. */
export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024 * 1024

/** How deep a value may nest where it is recorded, and why (for the message). */
export interface DepthRule {
  max: number
  why: string
}

/** A value recorded as an event's payload. */
export const EVENT_DEPTH: DepthRule = { max: MAX_VALUE_DEPTH, why: 'the most an event may hold' }

/** A value recorded inside a list or an object of the engine's: a foreach item's output, a run input. */
export function nestedDepth(what: string, within: string): DepthRule {
  return {
    max: MAX_VALUE_DEPTH - 1,
    why: `the most ${what} may (${within}, which an event holds at most ${MAX_VALUE_DEPTH} levels deep)`,
  }
}

/** A foreach item's output: the foreach's output lists them. */
export const ITEM_OUTPUT_DEPTH = nestedDepth("a foreach item's output", "the foreach's output lists the items' outputs")

/** A run input: the run's inputs are recorded as one object. */
export const INPUT_DEPTH = nestedDepth('a run input', "the run's inputs are recorded as one object")

export type ValueProblem =
  { kind: 'depth'; message: string } | { kind: 'not-json'; message: string } | { kind: 'size'; message: string }

/**
 * Why `value` cannot be recorded, in words that fit after its name ("the output of step x ..."),
 * or null. Walks the value with an explicit stack (a value nested thousands of levels deep must
 * not overflow the call stack) and stops at the first problem.
 */
export function valueProblem(
  value: unknown,
  maxBytes: number = DEFAULT_MAX_VALUE_BYTES,
  depth: DepthRule = EVENT_DEPTH,
): ValueProblem | null {
  const stack: Array<[unknown, number]> = [[value, 0]]
  // an upper bound of the JSON text's UTF-8 bytes: exact sizes are only computed when it is over
  let bound = 0
  while (stack.length > 0) {
    const [v, level] = stack.pop()!
    if (v === null || typeof v === 'boolean') {
      bound += 5
      continue
    }
    if (typeof v === 'string') {
      bound += 2 + v.length * 6
      continue
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { kind: 'not-json', message: `is not JSON data: it holds the number ${v}` }
      bound += 24
      continue
    }
    if (typeof v !== 'object') return { kind: 'not-json', message: `is not JSON data: it holds ${describe(v)}` }
    if (level >= depth.max && hasEntries(v)) {
      return { kind: 'depth', message: `nests lists and objects more than ${depth.max} levels deep, ${depth.why}` }
    }
    if (Array.isArray(v)) {
      bound += 2 + v.length
      for (const item of v as unknown[]) stack.push([item, level + 1])
      continue
    }
    const proto = Object.getPrototypeOf(v) as unknown
    if (proto !== Object.prototype && proto !== null) {
      return { kind: 'not-json', message: `is not JSON data: it holds ${describe(v)}` }
    }
    bound += 2
    for (const [k, item] of Object.entries(v)) {
      bound += 3 + k.length * 6
      stack.push([item, level + 1])
    }
  }
  if (bound <= maxBytes) return null
  const bytes = Buffer.byteLength(JSON.stringify(value))
  if (bytes <= maxBytes) return null
  return { kind: 'size', message: `is ${bytes} bytes of JSON, over the ${maxBytes}-byte limit for a recorded value` }
}

function hasEntries(v: object): boolean {
  for (const _ in v) return true
  return Array.isArray(v) && v.length > 0
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined'
  if (typeof v === 'bigint') return 'a bigint'
  if (typeof v === 'function') return 'a function'
  if (typeof v === 'symbol') return 'a symbol'
  const name = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name
  return name ? `a ${name} object` : 'an object that is not plain data'
}

/** How many levels of lists and objects a value nests (0 for a scalar), counting no further than `cap`. */
export function nestingDepth(value: unknown, cap: number): number {
  const stack: Array<[unknown, number]> = [[value, 0]]
  let deepest = 0
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    deepest = Math.max(deepest, depth + 1)
    if (deepest > cap) return deepest
    for (const item of Object.values(v)) stack.push([item, depth + 1])
  }
  return deepest
}
