import type { Document, Node as YamlNode } from 'yaml'
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml'
import { findJsonSyntaxError } from './json-syntax.js'
import { resolveLimits } from './limits.js'
import { textNesting } from './text-nesting.js'
import type { ValidateOptions, ValidationResult } from './validate.js'
import { nestingError, validateWorkflow } from './validate.js'
import type { ValidationError } from './validation-errors.js'
import { parsePath } from './validation-errors.js'

export type WorkflowFormat = 'yaml' | 'json'

/** Aliases a YAML definition may expand; a guard against alias bombs. */
const MAX_ALIAS_COUNT = 100

/**
 * Parses a YAML or JSON definition and validates it. Syntax errors and validation errors both come
 * back as ValidationErrors with the line and column they point at. Without a format, text whose
 * first character is `{` is JSON and anything else YAML (1.2, core schema: `yes` stays a string).
 */
export function parseWorkflow(text: string, format?: WorkflowFormat, options: ValidateOptions = {}): ValidationResult {
  const limits = resolveLimits(options.limits)
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > limits.maxDefinitionBytes) {
    return {
      ok: false,
      errors: [
        {
          path: '',
          code: 'limit_exceeded',
          message: `the definition has ${bytes} bytes, over the limit maxDefinitionBytes (${limits.maxDefinitionBytes})`,
        },
      ],
    }
  }
  const lineCounter = new LineCounter()
  // the parser recurses per level: a document nested past the limit is refused before it runs
  const nesting = textNesting(text, limits.maxNesting + 1)
  if (nesting.exceeded !== null) {
    const at = position(lineCounter, text, nesting.exceeded, true)
    return { ok: false, errors: [{ path: '', ...nestingError(limits.maxNesting), ...at }] }
  }
  const resolved = format ?? (text.trimStart().startsWith('{') ? 'json' : 'yaml')
  // prettyErrors off: drawing every error's line made a line of 100,000 quotes (52,000 errors) take
  // 10 s; only the first few errors are reported, and they are placed below
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    version: '1.2',
    schema: 'core',
    strict: true,
    prettyErrors: false,
  })
  const at = (e: { pos: [number, number] }) => lineCounter.linePos(e.pos[0])
  let value: unknown
  if (resolved === 'json') {
    try {
      value = JSON.parse(text) as unknown
    } catch (error) {
      const found = findJsonSyntaxError(text)
      const reason = found?.message ?? (error instanceof Error ? error.message : String(error))
      const at = found === undefined ? {} : position(lineCounter, text, found.offset)
      return { ok: false, errors: [{ path: '', code: 'syntax', message: `invalid JSON: ${reason}`, ...at }] }
    }
    // JSON.parse keeps the last of repeated keys silently; the YAML parser reports them.
    const duplicate = doc.errors.find((e) => e.code === 'DUPLICATE_KEY')
    if (duplicate) return { ok: false, errors: [yamlError('invalid JSON', duplicate.message, at(duplicate))] }
  } else {
    const problems = [...doc.errors, ...doc.warnings]
    if (problems.length > 0) {
      // the first few say where it goes wrong; one broken line can make hundreds more
      const shown = problems.slice(0, MAX_SYNTAX_ERRORS).map((e) => yamlError('invalid YAML', e.message, at(e)))
      const more = problems.length - shown.length
      if (more > 0) shown.push({ path: '', code: 'syntax', message: `invalid YAML: ${more} more problems after these` })
      return { ok: false, errors: shown }
    }
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      return { ok: false, errors: [{ path: '', code: 'syntax', message: `invalid YAML: ${reason}` }] }
    }
  }
  const result = validateWorkflow(value, options)
  if (result.ok || doc.errors.length > 0) return result
  return { ok: false, errors: result.errors.map((e) => locate(e, doc, lineCounter)) }
}

/** How many YAML syntax problems a file's check reports before it sums up the rest. */
const MAX_SYNTAX_ERRORS = 10

function yamlError(prefix: string, message: string, at: { line: number; col: number } | undefined): ValidationError {
  // The parser's message repeats the position and then draws the line; keep the sentence.
  const sentence = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '')
  return {
    path: '',
    code: 'syntax',
    message: `${prefix}: ${sentence}`,
    ...(at === undefined ? {} : { line: at.line, column: at.col }),
  }
}

function position(
  lineCounter: LineCounter,
  text: string,
  offset: number,
  countLines = false,
): { line: number; column: number } {
  if (countLines) {
    // before the parser ran, the line counter knows no lines yet
    lineCounter.addNewLine(0)
    for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) lineCounter.addNewLine(i + 1)
  }
  const at = lineCounter.linePos(Math.min(offset, text.length))
  return { line: at.line, column: at.col }
}

/** Adds the source position of the deepest node on the error's path (a key when the path ends at one). */
function locate(error: ValidationError, doc: Document, lineCounter: LineCounter): ValidationError {
  let node: unknown = doc.contents
  let offset: number | undefined = rangeStart(node)
  for (const segment of parsePath(error.path)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
      if (!pair) break
      offset = rangeStart(pair.key) ?? offset
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment]
      offset = rangeStart(node) ?? offset
    } else {
      break
    }
  }
  if (offset === undefined) return error
  const at = lineCounter.linePos(offset)
  return { ...error, line: at.line, column: at.col }
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as YamlNode | null | undefined)?.range
  return Array.isArray(range) ? range[0] : undefined
}
