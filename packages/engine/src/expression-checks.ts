import type { Json } from '@shiioo/core'
import type { ScopeShape } from './cel.js'
import { RUN_FIELDS, STEP_FIELDS } from './cel.js'
import type { ExpressionReferences } from './expressions.js'
import { analyzeExpression } from './expressions.js'
import type { ValidationLimits } from './limits.js'
import type { ForeachBody, StepDefinition, WorkflowDefinition } from './schema.js'
import { findTemplates, parseTemplate } from './templates.js'
import type { PathSegment, ValidationError } from './validation-errors.js'
import { didYouMean, formatPath } from './validation-errors.js'

type Expected = 'bool' | 'list' | 'timestamp'

/** Where a piece of CEL sits and what it must yield. */
interface Site {
  readonly path: readonly PathSegment[]
  readonly source: string
  readonly template: boolean
  readonly shape: ScopeShape
  readonly expect?: Expected
  /** Why a template could not be split into its expressions. */
  readonly broken?: string
}

export interface ExpressionContext {
  readonly limits: ValidationLimits
  /** Every step id of the workflow. */
  readonly stepIds: readonly string[]
  /** Ancestors per step; undefined when the graph is broken (then only unknown steps are reported). */
  readonly ancestors: ReadonlyMap<string, ReadonlySet<string>> | undefined
}

/** What to check: the steps whose shape is valid (with their positions), the declared inputs, the run output. */
export interface ExpressionTargets {
  readonly steps: readonly { readonly index: number; readonly step: StepDefinition }[]
  readonly inputNames: readonly string[]
  readonly output: Json | undefined
}

export function targetsOf(definition: WorkflowDefinition): ExpressionTargets {
  return {
    steps: definition.steps.map((step, index) => ({ index, step })),
    inputNames: Object.keys(definition.inputs),
    output: definition.output,
  }
}

/**
 * Parses and type-checks every expression and template of a definition and checks what each reads:
 * `steps.<id>.output` only of the reading step's ancestors, `inputs.<name>` only of declared inputs.
 */
export function checkExpressions(targets: ExpressionTargets, context: ExpressionContext): ValidationError[] {
  const { inputNames } = targets
  const errors: ValidationError[] = []
  for (const { index, step } of targets.steps) {
    const label = `step "${step.id}": `
    const visible = context.ancestors?.get(step.id)
    for (const site of stepSites(step, ['steps', index])) {
      errors.push(...checkSite(site, { label, stepId: step.id, visible, inputNames, context }))
    }
  }
  if (targets.output !== undefined) {
    for (const site of templateSites(targets.output, ['output'], { item: false, event: false })) {
      errors.push(...checkSite(site, { label: '', stepId: undefined, visible: undefined, inputNames, context }))
    }
  }
  return errors
}

function stepSites(step: StepDefinition | ForeachBody, at: readonly PathSegment[], inBody = false): Site[] {
  const shape: ScopeShape = { item: inBody, event: false }
  const sites: Site[] = []
  const bare = (field: string, source: string, expect: Expected, siteShape = shape) =>
    sites.push({ path: [...at, field], source, template: false, shape: siteShape, expect })
  if (step.when !== undefined) bare('when', step.when, 'bool')
  switch (step.kind) {
    case 'agent':
    case 'approval':
      sites.push(...templateSites(step.prompt, [...at, 'prompt'], shape))
      break
    case 'tool':
    case 'subworkflow':
      sites.push(...templateSites(step.input, [...at, 'input'], shape))
      break
    case 'transform':
      sites.push(...templateSites(step.output, [...at, 'output'], shape))
      break
    case 'wait':
      if (step.until !== undefined) bare('until', step.until, 'timestamp')
      if (step.event?.match !== undefined) {
        sites.push({
          path: [...at, 'event', 'match'],
          source: step.event.match,
          template: false,
          shape: { ...shape, event: true },
          expect: 'bool',
        })
      }
      break
    case 'foreach':
      bare('items', step.items, 'list')
      sites.push(...stepSites(step.step, [...at, 'step'], true))
      break
  }
  return sites
}

/** One site per `${{ }}` in every string of a JSON value; a malformed template is a site with no source. */
function templateSites(value: Json, at: readonly PathSegment[], shape: ScopeShape): Site[] {
  return findTemplates(value).flatMap(({ path, text }) => {
    const parsed = parseTemplate(text)
    const full = [...at, ...path]
    if (!parsed.ok) return [{ path: full, source: '', template: true, shape, broken: parsed.message }]
    const t = parsed.template
    const sources =
      t.kind === 'expression'
        ? [t.source]
        : t.kind === 'interpolation'
          ? t.parts.flatMap((p) => (p.kind === 'expression' ? [p.source] : []))
          : []
    return sources.map((source) => ({ path: full, source, template: true, shape }))
  })
}

interface SiteContext {
  readonly label: string
  readonly stepId: string | undefined
  readonly visible: ReadonlySet<string> | undefined
  readonly inputNames: readonly string[]
  readonly context: ExpressionContext
}

function checkSite(site: Site, ctx: SiteContext): ValidationError[] {
  const path = formatPath(site.path)
  const field = fieldOf(site.path)
  const { label } = ctx
  if (site.broken !== undefined) {
    return [{ path, code: 'expression_syntax', message: `${label}${field} has a bad template: ${site.broken}` }]
  }
  const max = ctx.context.limits.maxExpressionLength
  if (site.source.length > max) {
    return [
      {
        path,
        code: 'limit_exceeded',
        message: `${label}an expression in ${field} has ${site.source.length} characters, over the limit maxExpressionLength (${max})`,
      },
    ]
  }
  const shown = site.template ? `\${{ ${clip(site.source)} }}` : JSON.stringify(clip(site.source))
  const analysis = analyzeExpression(site.source, site.shape)
  if (!analysis.ok) {
    const what = analysis.code === 'expression_syntax' ? 'syntax error' : 'invalid expression'
    const column = analysis.offset === undefined ? '' : ` at column ${analysis.offset + 1}`
    return [
      { path, code: analysis.code, message: `${label}${what} in ${field} ${shown}${column}: ${analysis.message}` },
    ]
  }
  const errors: ValidationError[] = []
  if (site.expect !== undefined && !yields(analysis.type, site.expect)) {
    errors.push({
      path,
      code: 'expression_type',
      message: `${label}${field} must yield ${EXPECTED_NAMES[site.expect]}, but ${shown} yields ${analysis.type}`,
    })
  }
  for (const message of referenceProblems(analysis.references, ctx, field, shown)) {
    errors.push({ path, code: message.code, message: label + message.text })
  }
  return errors
}

const EXPECTED_NAMES: Record<Expected, string> = {
  bool: 'a boolean',
  list: 'a list',
  timestamp: 'a timestamp (an RFC 3339 string)',
}

function yields(type: string, expected: Expected): boolean {
  if (type === 'dyn') return true
  switch (expected) {
    case 'bool':
      return type === 'bool'
    case 'list':
      return type === 'list' || type.startsWith('list<')
    case 'timestamp':
      return type === 'string' || type === 'google.protobuf.Timestamp'
  }
}

type Problem = { code: 'unknown_reference' | 'not_ancestor'; text: string }

function referenceProblems(refs: ExpressionReferences, ctx: SiteContext, field: string, shown: string): Problem[] {
  const problems: Problem[] = []
  const { stepIds, ancestors } = ctx.context
  if (refs.dynamicSteps) {
    problems.push({
      code: 'unknown_reference',
      text: `${field} reads steps without a literal step id in ${shown}; write steps.<id>.output so the dependency can be checked`,
    })
  }
  for (const ref of refs.steps) {
    if (!stepIds.includes(ref.id)) {
      problems.push({
        code: 'unknown_reference',
        text: `${field} reads steps.${ref.id}, but there is no step "${ref.id}"${didYouMean(ref.id, stepIds)}`,
      })
      continue
    }
    if (ref.field === null || !(STEP_FIELDS as readonly string[]).includes(ref.field)) {
      const read = ref.field === null ? `steps.${ref.id}` : `steps.${ref.id}.${ref.field}`
      problems.push({
        code: 'unknown_reference',
        text: `${field} reads ${read}; a step offers only ${STEP_FIELDS.join(', ')} (write steps.${ref.id}.output)`,
      })
      continue
    }
    if (ancestors === undefined || ctx.stepId === undefined || ctx.visible?.has(ref.id)) continue
    problems.push({
      code: 'not_ancestor',
      text:
        ref.id === ctx.stepId
          ? `${field} reads its own output (steps.${ref.id}.output), which does not exist yet`
          : `${field} reads steps.${ref.id}.output, but "${ref.id}" is not among the steps "${ctx.stepId}" depends on; add "${ref.id}" to its needs (directly or through a step it needs)`,
    })
  }
  for (const name of refs.inputs) {
    if (ctx.inputNames.includes(name)) continue
    problems.push({
      code: 'unknown_reference',
      text:
        ctx.inputNames.length === 0
          ? `${field} reads inputs.${name}, but the workflow declares no inputs`
          : `${field} reads inputs.${name}, but the workflow declares no input "${name}"${didYouMean(name, ctx.inputNames)}`,
    })
  }
  for (const name of refs.run) {
    if ((RUN_FIELDS as readonly string[]).includes(name)) continue
    problems.push({
      code: 'unknown_reference',
      text: `${field} reads run.${name}, but run has only ${RUN_FIELDS.join(', ')}${didYouMean(name, RUN_FIELDS)}`,
    })
  }
  return problems
}

/** The path inside the step, for messages: `prompt`, `input.url`, `step.output` (or `output` at the top). */
function fieldOf(path: readonly PathSegment[]): string {
  return formatPath(path[0] === 'steps' ? path.slice(2) : path)
}

function clip(source: string): string {
  const oneLine = source.replace(/\s+/g, ' ')
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine
}
