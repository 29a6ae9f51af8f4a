import { Environment } from '@marcbachmann/cel-js'

/**
 * The variables an expression may read depend on where it sits: every expression sees `inputs`,
 * `steps` and `run`; a foreach body also sees `item` and `index`; a wait's `event.match` sees `event`.
 */
export interface ScopeShape {
  readonly item: boolean
  readonly event: boolean
}

export const ROOT_VARIABLES = ['inputs', 'steps', 'run'] as const
/** Fields of `run` an expression may read. */
export const RUN_FIELDS = ['id', 'startedAt'] as const
/** Fields of `steps.<id>` an expression may read. */
export const STEP_FIELDS = ['output'] as const

export function scopeVariables(shape: ScopeShape): string[] {
  return [...ROOT_VARIABLES, ...(shape.item ? ['item', 'index'] : []), ...(shape.event ? ['event'] : [])]
}

function createEnvironment(shape: ScopeShape): Environment {
  // Mixed lists and maps are ordinary in JSON (`{'count': 2, 'name': 'x'}`), so literals need not be homogeneous.
  const env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false })
    .registerVariable('inputs', 'map', { description: 'The run inputs' })
    .registerVariable('steps', 'map', { description: 'Outputs of the steps this one depends on' })
    .registerVariable('run', 'map', { description: 'The run: id, startedAt' })
  if (shape.item) {
    env.registerVariable('item', 'dyn', { description: 'The current foreach item' })
    env.registerVariable('index', 'int', { description: 'The position of the current foreach item' })
  }
  if (shape.event) env.registerVariable('event', 'map', { description: 'The external event being matched' })
  return env
}

// Environments hold no run state: they are the language definition (variables and functions), built once.
const ENVIRONMENTS = {
  base: createEnvironment({ item: false, event: false }),
  item: createEnvironment({ item: true, event: false }),
  event: createEnvironment({ item: false, event: true }),
  itemEvent: createEnvironment({ item: true, event: true }),
} as const

export function environmentFor(shape: ScopeShape): Environment {
  if (shape.item) return shape.event ? ENVIRONMENTS.itemEvent : ENVIRONMENTS.item
  return shape.event ? ENVIRONMENTS.event : ENVIRONMENTS.base
}

/** The first line of a CEL error message (later lines draw the source with a caret). */
export function celSummary(error: unknown): string {
  if (error instanceof Error) {
    const summary = (error as Error & { summary?: unknown }).summary
    const text = typeof summary === 'string' && summary.length > 0 ? summary : error.message
    return text.split('\n')[0] ?? text
  }
  return String(error)
}

/** The 0-based offset a CEL error points at, when it says. */
export function celOffset(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const range = (error as { range?: { start?: unknown } }).range
  return typeof range?.start === 'number' ? range.start : undefined
}

/** The machine code of a CEL error (e.g. unexpected_token, no_such_key), when it has one. */
export function celCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}
