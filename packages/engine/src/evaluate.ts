import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator'
import type { Json } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import { celCode, celSummary, environmentFor } from './cel.js'
import { parseTemplate } from './templates.js'

/** What an expression can read at run time. Omitted parts read as empty. */
export interface ExpressionScope {
  readonly inputs?: Readonly<Record<string, Json>>
  /** Outputs of completed steps by id: `steps.<id>.output`. */
  readonly steps?: Readonly<Record<string, { readonly output: Json }>>
  readonly run?: { readonly id: string; readonly startedAt: string }
  /** Inside a foreach body: the current item and its position. */
  readonly item?: Json
  readonly index?: number
  /** Inside a wait's event.match: the event being matched. */
  readonly event?: Json
}

export type ExpressionFailure = 'syntax' | 'evaluation' | 'result'

/** An expression that could not be evaluated; `details` carries the expression and what went wrong. */
function expressionError(expression: string, failure: ExpressionFailure, message: string, cause?: unknown) {
  return new ShiiooError('INVALID_INPUT', `expression ${clip(expression)} ${message}`, {
    details: { expression, failure, ...(cause === undefined ? {} : { celCode: celCode(cause) ?? null }) },
    ...(cause === undefined ? {} : { cause }),
  })
}

/**
 * Evaluates a CEL expression against a scope and returns its value as JSON. JSON numbers with
 * integral values are CEL ints (so `index + 1` and `size(x) == steps.a.output.n` work), others are
 * doubles; CEL ints come back as numbers when they are safe integers. Throws INVALID_INPUT when the
 * expression does not parse, fails (a missing key, a bad overload) or yields a value JSON cannot hold.
 */
export function evaluate(expression: string, scope: ExpressionScope): Json {
  return fromCel(evaluateRaw(expression, scope), expression)
}

/** Evaluates a boolean condition (`when`, `event.match`); anything but a boolean is an error. */
export function evaluateCondition(expression: string, scope: ExpressionScope): boolean {
  const value = evaluate(expression, scope)
  if (typeof value !== 'boolean') throw expressionError(expression, 'result', `yields ${kindOf(value)}, not a boolean`)
  return value
}

/** Evaluates a foreach `items` expression; anything but a list is an error. */
export function evaluateList(expression: string, scope: ExpressionScope): Json[] {
  const value = evaluate(expression, scope)
  if (!Array.isArray(value)) throw expressionError(expression, 'result', `yields ${kindOf(value)}, not a list`)
  return value
}

/** Evaluates a wait's `until`: a CEL timestamp or an RFC 3339 string; returns epoch milliseconds. */
export function evaluateTimestamp(expression: string, scope: ExpressionScope): number {
  const value = evaluateRaw(expression, scope)
  if (value instanceof Date) return value.getTime()
  if (typeof value === 'string' && RFC3339.test(value)) {
    const ms = Date.parse(value)
    if (Number.isFinite(ms)) return ms
  }
  throw expressionError(expression, 'result', `yields ${describeCel(value)}, not an RFC 3339 timestamp`)
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

/**
 * Renders a JSON value holding `${{ }}` templates: a string that is one whole `${{ expr }}` becomes
 * the expression's value; other strings with `${{ }}` get each value interpolated as text (strings
 * as they are, anything else as JSON). Object keys are never rendered.
 */
export function renderTemplate(value: Json, scope: ExpressionScope): Json {
  if (typeof value === 'string') return renderString(value, scope)
  if (Array.isArray(value)) return value.map((v) => renderTemplate(v, scope))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, Json> = {}
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, { value: renderTemplate(v, scope), enumerable: true, writable: true })
    }
    return out
  }
  return value
}

function renderString(text: string, scope: ExpressionScope): Json {
  const parsed = parseTemplate(text)
  if (!parsed.ok) throw expressionError(text, 'syntax', `is not a valid template: ${parsed.message}`)
  const template = parsed.template
  switch (template.kind) {
    case 'literal':
      return template.text
    case 'expression':
      return evaluate(template.source, scope)
    case 'interpolation':
      return template.parts
        .map((part) => {
          if (part.kind === 'text') return part.text
          const v = evaluate(part.source, scope)
          return typeof v === 'string' ? v : JSON.stringify(v)
        })
        .join('')
  }
}

function evaluateRaw(expression: string, scope: ExpressionScope): unknown {
  const shape = { item: 'item' in scope || 'index' in scope, event: 'event' in scope }
  const env = environmentFor(shape)
  let program: ReturnType<typeof env.parse>
  try {
    program = env.parse(expression)
  } catch (error) {
    throw expressionError(expression, 'syntax', `has a syntax error: ${celSummary(error)}`, error)
  }
  const context: Record<string, unknown> = {
    inputs: toCel(scope.inputs ?? {}),
    steps: toCel(scope.steps ?? {}),
    run: toCel(scope.run ?? {}),
  }
  if (shape.item) {
    const index = scope.index ?? 0
    if (!Number.isSafeInteger(index)) {
      throw expressionError(expression, 'evaluation', `cannot run: index ${index} is not an integer`)
    }
    context.item = toCel(scope.item ?? null)
    context.index = BigInt(index)
  }
  if (shape.event) context.event = toCel(scope.event ?? null)
  try {
    return program(context) as unknown
  } catch (error) {
    throw expressionError(expression, 'evaluation', `failed: ${celSummary(error)}`, error)
  }
}

/** JSON to CEL values: integral numbers become ints, objects become maps (so no key reaches a prototype). */
function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value
  if (Array.isArray(value)) return value.map(toCel)
  if (value !== null && typeof value === 'object') {
    return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]))
  }
  return value
}

function fromCel(value: unknown, expression: string, depth = 0): Json {
  if (depth > 64) throw expressionError(expression, 'result', 'yields a value nested deeper than 64 levels')
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'bigint' || value instanceof UnsignedInt) {
    const big = typeof value === 'bigint' ? value : value.value
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw expressionError(expression, 'result', `yields the integer ${big}, beyond what JSON numbers hold exactly`)
    }
    return Number(big)
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw expressionError(expression, 'result', `yields ${value}, which JSON cannot hold`)
    return value
  }
  if (Array.isArray(value)) return value.map((v) => fromCel(v, expression, depth + 1))
  if (value instanceof Map) {
    const out: Record<string, Json> = {}
    for (const [k, v] of value as Map<unknown, unknown>)
      setKey(out, mapKey(k, expression), fromCel(v, expression, depth + 1))
    return out
  }
  if (isPlainObject(value)) {
    const out: Record<string, Json> = {}
    for (const [k, v] of Object.entries(value)) setKey(out, k, fromCel(v, expression, depth + 1))
    return out
  }
  throw expressionError(expression, 'result', `yields ${describeCel(value)}, which is not JSON${conversionHint(value)}`)
}

function mapKey(key: unknown, expression: string): string {
  if (typeof key === 'string') return key
  if (typeof key === 'bigint' || typeof key === 'boolean') return String(key)
  throw expressionError(expression, 'result', `yields a map with a ${describeCel(key)} key, which JSON cannot hold`)
}

function setKey(out: Record<string, Json>, key: string, value: Json): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

function describeCel(value: unknown): string {
  if (value instanceof Date) return 'a timestamp'
  if (value instanceof Duration) return 'a duration'
  if (value instanceof Uint8Array) return 'bytes'
  if (value === null) return 'null'
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object'} value`
  return `a ${typeof value}`
}

function conversionHint(value: unknown): string {
  if (value instanceof Uint8Array) return '; convert it with .string() or .base64()'
  return ''
}

function kindOf(value: Json): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'a map' : `a ${typeof value}`
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ')
  return JSON.stringify(oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine)
}
