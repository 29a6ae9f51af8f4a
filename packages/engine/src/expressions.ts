import type { ASTNode } from '@marcbachmann/cel-js'
import type { ScopeShape } from './cel.js'
import { celCode, celOffset, celSummary, environmentFor, scopeVariables } from './cel.js'

/** A `steps.<id>` read: the step id and the field read from it (`output`), or null when none or computed. */
export interface StepReference {
  readonly id: string
  readonly field: string | null
}

/** What an expression reads, taken from its parsed syntax tree (not from its text). */
export interface ExpressionReferences {
  readonly steps: readonly StepReference[]
  /** Names read as `inputs.<name>` or `inputs['<name>']`. */
  readonly inputs: readonly string[]
  /** Fields read as `run.<field>`. */
  readonly run: readonly string[]
  /** True when `steps` is read other than through a literal step id (`steps[x]`, `size(steps)`). */
  readonly dynamicSteps: boolean
}

export type ExpressionProblemCode = 'expression_syntax' | 'expression_type'

export type ExpressionAnalysis =
  | { ok: true; type: string; references: ExpressionReferences }
  | { ok: false; code: ExpressionProblemCode; message: string; offset: number | undefined }

/**
 * Parses and type-checks a CEL expression in a scope, and lists the steps, inputs and run fields it
 * reads. Nothing is evaluated.
 */
export function analyzeExpression(source: string, shape: ScopeShape): ExpressionAnalysis {
  const env = environmentFor(shape)
  let ast: ASTNode
  try {
    ast = env.parse(source).ast
  } catch (error) {
    return { ok: false, code: 'expression_syntax', message: celSummary(error), offset: celOffset(error) }
  }
  const checked = env.check(source)
  if (!checked.valid) {
    const error = checked.error
    const message =
      celCode(error) === 'unknown_variable' ? unknownVariableMessage(source, error, shape) : celSummary(error)
    return { ok: false, code: 'expression_type', message, offset: celOffset(error) }
  }
  return { ok: true, type: checked.type ?? 'dyn', references: extractReferences(ast) }
}

function unknownVariableMessage(source: string, error: unknown, shape: ScopeShape): string {
  const offset = celOffset(error)
  const name = offset === undefined ? undefined : /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(offset))?.[0]
  const inScope = scopeVariables(shape).join(', ')
  if (name === undefined) return `${celSummary(error)} (in scope here: ${inScope})`
  let hint = ''
  if (name === 'item' || name === 'index') hint = '; item and index exist only inside a foreach body'
  else if (name === 'event') hint = "; event exists only in a wait step's event.match"
  else if (/steps\.[A-Za-z_][A-Za-z0-9_]*-/.test(source)) hint = "; a step id with a dash is read as steps['my-step']"
  return `unknown variable "${name}" (in scope here: ${inScope})${hint}`
}

// Macros that bind their first argument as a variable over the rest: list.all(x, p), list.map(x, f), ...
const BINDING_MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter'])

interface Collector {
  steps: StepReference[]
  inputs: string[]
  run: string[]
  dynamicSteps: boolean
}

type Segment = { name: string } | { computed: ASTNode }

/** Walks a parsed expression and collects the scope reads, honouring names bound by macros. */
export function extractReferences(ast: ASTNode): ExpressionReferences {
  const out: Collector = { steps: [], inputs: [], run: [], dynamicSteps: false }
  walk(ast, new Set(), out)
  return {
    steps: uniqueBy(out.steps, (r) => `${r.id}\u0000${r.field ?? ''}`),
    inputs: [...new Set(out.inputs)],
    run: [...new Set(out.run)],
    dynamicSteps: out.dynamicSteps,
  }
}

function walk(node: ASTNode, bound: ReadonlySet<string>, out: Collector): void {
  switch (node.op) {
    case 'value':
      return
    case 'id':
      if (node.args === 'steps' && !bound.has('steps')) out.dynamicSteps = true
      return
    case '.':
    case '.?':
    case '[]':
    case '[?]': {
      const { root, segments } = unwind(node)
      if (root.op === 'id' && !bound.has(root.args)) record(root.args, segments, out)
      else walk(root, bound, out)
      for (const segment of segments) if ('computed' in segment) walk(segment.computed, bound, out)
      return
    }
    case 'call':
      for (const arg of node.args[1]) walk(arg, bound, out)
      return
    case 'rcall': {
      const [name, receiver, args] = node.args
      const first = args[0]
      if (name === 'bind' && receiver.op === 'id' && receiver.args === 'cel' && first?.op === 'id') {
        // cel.bind(x, init, body): init is outside the binding, body inside it.
        if (args[1]) walk(args[1], bound, out)
        if (args[2]) walk(args[2], new Set([...bound, first.args]), out)
        return
      }
      walk(receiver, bound, out)
      if (BINDING_MACROS.has(name) && first?.op === 'id' && args.length >= 2) {
        const inner = new Set([...bound, first.args])
        for (const arg of args.slice(1)) walk(arg, inner, out)
        return
      }
      for (const arg of args) walk(arg, bound, out)
      return
    }
    case 'list':
      for (const item of node.args) walk(item, bound, out)
      return
    case 'map':
      for (const [key, value] of node.args) {
        walk(key, bound, out)
        walk(value, bound, out)
      }
      return
    case '!_':
    case '-_':
      walk(node.args, bound, out)
      return
    case '?:':
      for (const arg of node.args) walk(arg, bound, out)
      return
    case '||':
    case '&&':
    case '==':
    case '!=':
    case 'in':
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
    case '<':
    case '<=':
    case '>':
    case '>=':
      walk(node.args[0], bound, out)
      walk(node.args[1], bound, out)
      return
  }
}

/** Splits `a.b['c'][x]` into its root (`a`) and the segments read from it, outermost last. */
function unwind(node: ASTNode): { root: ASTNode; segments: Segment[] } {
  const segments: Segment[] = []
  let current = node
  for (;;) {
    if (current.op === '.' || current.op === '.?') {
      segments.unshift({ name: current.args[1] })
      current = current.args[0]
    } else if (current.op === '[]' || current.op === '[?]') {
      const index = current.args[1]
      segments.unshift(
        index.op === 'value' && typeof index.args === 'string' ? { name: index.args } : { computed: index },
      )
      current = current.args[0]
    } else {
      return { root: current, segments }
    }
  }
}

function record(root: string, segments: readonly Segment[], out: Collector): void {
  const [first, second] = segments
  const firstName = first && 'name' in first ? first.name : undefined
  if (root === 'steps') {
    if (firstName === undefined) {
      out.dynamicSteps = true
      return
    }
    out.steps.push({ id: firstName, field: second && 'name' in second ? second.name : null })
  } else if (root === 'inputs') {
    if (firstName !== undefined) out.inputs.push(firstName)
  } else if (root === 'run') {
    if (firstName !== undefined) out.run.push(firstName)
  }
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>()
  return items.filter((item) => {
    const k = key(item)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}
