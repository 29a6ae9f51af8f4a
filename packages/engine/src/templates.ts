import type { Json } from '@shiioo/core'

export const TEMPLATE_OPEN = '${{'
const TEMPLATE_CLOSE = '}}'

export type TemplatePart = { kind: 'text'; text: string } | { kind: 'expression'; source: string; offset: number }

/**
 * A string value as the engine reads it: a literal (no `${{`), one whole expression whose value
 * replaces the string (any JSON type), or text with expressions interpolated into it.
 */
export type ParsedTemplate =
  | { kind: 'literal'; text: string }
  | { kind: 'expression'; source: string; offset: number }
  | { kind: 'interpolation'; parts: TemplatePart[] }

export type TemplateParseResult =
  { ok: true; template: ParsedTemplate } | { ok: false; message: string; offset: number }

export function hasTemplate(text: string): boolean {
  return text.includes(TEMPLATE_OPEN)
}

/**
 * Splits a string into text and `${{ expr }}` parts. An expression ends at the first `}}` outside
 * CEL string literals and outside braces it opened itself, so `${{ {'a': {'b': 1}} }}` is one expression.
 * There is no escape syntax: a literal `${{` is written `${{ '${{' }}`.
 */
export function parseTemplate(text: string): TemplateParseResult {
  if (!hasTemplate(text)) return { ok: true, template: { kind: 'literal', text } }
  const parts: TemplatePart[] = []
  let cursor = 0
  while (cursor < text.length) {
    const open = text.indexOf(TEMPLATE_OPEN, cursor)
    if (open < 0) {
      parts.push({ kind: 'text', text: text.slice(cursor) })
      break
    }
    if (open > cursor) parts.push({ kind: 'text', text: text.slice(cursor, open) })
    const start = open + TEMPLATE_OPEN.length
    const close = findClose(text, start)
    if (close < 0) {
      return {
        ok: false,
        message: 'a ${{ is never closed with }} (or a string literal inside it is never closed)',
        offset: open,
      }
    }
    const raw = text.slice(start, close)
    const source = raw.trim()
    if (source.length === 0) return { ok: false, message: 'a ${{ }} holds no expression', offset: open }
    parts.push({ kind: 'expression', source, offset: start + raw.indexOf(source) })
    cursor = close + TEMPLATE_CLOSE.length
  }
  const only = parts[0]
  if (parts.length === 1 && only?.kind === 'expression') {
    return { ok: true, template: { kind: 'expression', source: only.source, offset: only.offset } }
  }
  return { ok: true, template: { kind: 'interpolation', parts } }
}

/** The index of the `}}` closing an expression that starts at `from`, or -1. */
function findClose(text: string, from: number): number {
  let depth = 0
  let i = from
  while (i < text.length) {
    const ch = text[i]!
    if (ch === '"' || ch === "'") {
      i = skipString(text, i)
      continue
    }
    if (ch === '{') depth++
    else if (ch === '}') {
      if (depth === 0 && text[i + 1] === '}') return i
      depth = Math.max(0, depth - 1)
    }
    i++
  }
  return -1
}

/** The index just past the CEL string literal starting at `start` (its quote); raw strings have no escapes. */
function skipString(text: string, start: number): number {
  const quote = text[start]!
  const prefix = start > 0 ? text[start - 1]! : ''
  const prefix2 = start > 1 ? text[start - 2]! : ''
  const raw = /[rR]/.test(prefix) || (/[bB]/.test(prefix) && /[rR]/.test(prefix2))
  const triple = text.startsWith(quote.repeat(3), start)
  const delimiter = triple ? quote.repeat(3) : quote
  let i = start + delimiter.length
  while (i < text.length) {
    if (!raw && text[i] === '\\') {
      i += 2
      continue
    }
    if (text.startsWith(delimiter, i)) return i + delimiter.length
    if (!triple && text[i] === '\n') return i
    i++
  }
  return i
}

/** A template-bearing string found inside a JSON value, with its location. */
export interface TemplateSite {
  /** Path segments below the value's own path. */
  readonly path: readonly (string | number)[]
  readonly text: string
}

/** Every string that holds `${{` inside a JSON value, depth first, in document order. */
export function findTemplates(value: Json, path: readonly (string | number)[] = []): TemplateSite[] {
  if (typeof value === 'string') return hasTemplate(value) ? [{ path, text: value }] : []
  if (Array.isArray(value)) return value.flatMap((v, i) => findTemplates(v, [...path, i]))
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => findTemplates(v, [...path, k]))
  }
  return []
}
