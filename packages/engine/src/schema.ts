import { z } from 'zod'
import { DURATION_HINT, DURATION_PATTERN, MAX_DURATION_MS, tryParseDuration } from './duration.js'
import { INPUT_TYPES, article, describeValue, matchesInputType } from './inputs.js'
import {
  errorCodeSchema,
  eventNameSchema,
  inputNameSchema,
  roleNameSchema,
  stepIdSchema,
  toolNameSchema,
  workflowHashSchema,
  workflowNameSchema,
} from './names.js'

export const STEP_KINDS = ['agent', 'tool', 'approval', 'foreach', 'wait', 'subworkflow', 'transform'] as const
export type StepKind = (typeof STEP_KINDS)[number]
export const BODY_STEP_KINDS = ['agent', 'tool', 'approval', 'wait', 'subworkflow', 'transform'] as const

export const DEFAULT_RETRY_ON = ['UNAVAILABLE', 'RATE_LIMITED', 'TIMEOUT'] as const

/** Issue codes our refinements attach (as `params.code`) so validation can report them as such. */
export type RefinementCode = 'wait_target' | 'input_default' | 'invalid_field'

function duration(what: string, min: number) {
  return z
    .union([z.int().min(0).max(MAX_DURATION_MS), z.string().regex(DURATION_PATTERN, DURATION_HINT)])
    .transform((value, ctx) => {
      const ms = tryParseDuration(value)
      if (ms === undefined || ms < min) {
        ctx.addIssue({
          code: 'custom',
          // Only values past the pattern and bounds get here: a "367d", or a timeout of 0.
          message: ms === undefined ? DURATION_HINT : `this one is at least ${min}ms`,
          params: { code: 'invalid_field' satisfies RefinementCode, showValue: true },
        })
        return z.NEVER
      }
      return ms
    })
    .meta({
      description: `${what}: "500ms", "30s", "5m", "2h", "1d" or a number of milliseconds (at most 366d)`,
    })
}

/** Any JSON value; one schema instance so the JSON Schema has one definition for it. */
const jsonValue = z.json({ error: 'must be JSON data: strings, numbers, true/false, null, lists and objects' })
export const jsonValueSchema = jsonValue

const expression = (description: string) => z.string().min(1).meta({ description })

/** Any JSON value; strings in it may hold `${{ expr }}` templates. */
const templated = (description: string) => jsonValue.meta({ description })

const TEMPLATE_NOTE =
  'Strings may hold `${{ expr }}` CEL templates: a string that is exactly one `${{ expr }}` becomes the ' +
  "expression's value, otherwise each `${{ }}` is interpolated as text."

const STRING_INPUT =
  'a string input must be exactly one ${{ expr }} yielding an object; write literal values as an object'

const inputMapping = z
  .union([z.record(z.string(), jsonValue), z.string().regex(/^\$\{\{[\s\S]*\}\}$/, STRING_INPUT)], {
    error: 'must be an object, or one ${{ expr }} yielding an object',
  })
  .meta({ description: `The input object (or one \`\${{ expr }}\` yielding an object). ${TEMPLATE_NOTE}` })

const backoffSchema = z
  .object({
    initial: duration('Delay before the second attempt', 0).default(1_000),
    factor: z.number().min(1).max(10).default(2).meta({ description: 'Multiplier per further attempt (1..10)' }),
    max: duration('Largest delay between attempts', 0).default(300_000),
    jitter: z.number().min(0).max(1).default(0.2).meta({ description: 'Random spread, as a fraction of the delay' }),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.max < b.initial) {
      ctx.addIssue({
        code: 'custom',
        path: ['max'],
        message: `backoff max (${b.max}ms) is below backoff initial (${b.initial}ms)`,
        params: { code: 'invalid_field' satisfies RefinementCode },
      })
    }
  })
  .meta({ description: 'Exponential backoff between attempts (defaults: initial 1s, factor 2, max 5m, jitter 0.2)' })

export const retrySchema = z
  .object({
    maxAttempts: z.int().min(1).max(100).default(1).meta({ description: 'Attempts in all, 1..100 (default 1)' }),
    backoff: backoffSchema.prefault({}),
    retryOn: z
      .array(errorCodeSchema)
      .min(1)
      .default([...DEFAULT_RETRY_ON])
      .meta({ description: 'Error codes that are retried (default UNAVAILABLE, RATE_LIMITED, TIMEOUT)' }),
  })
  .strict()
  .meta({ description: 'Retry policy for failed attempts' })

/** Fields every step has; a foreach body has them all but `id` and `needs`. */
const bodyCommon = {
  when: expression('CEL boolean; when false the step and its dependents are skipped').optional(),
  timeout: duration('Timeout per attempt', 1).optional(),
  retry: retrySchema.prefault({}),
  description: z.string().max(2000).optional().meta({ description: 'What the step is for' }),
}

const common = {
  id: stepIdSchema.meta({ description: 'Unique step id; later steps read its output as steps.<id>.output' }),
  needs: z
    .array(stepIdSchema)
    .default([])
    .meta({ description: 'Ids of steps that must complete before this one starts' }),
  ...bodyCommon,
}

const agentFields = {
  kind: z.literal('agent'),
  role: roleNameSchema.meta({ description: 'The agent role that runs the step' }),
  prompt: z
    .string()
    .min(1)
    .meta({ description: `The task for the agent. ${TEMPLATE_NOTE}` }),
  tools: z.array(toolNameSchema).default([]).meta({ description: 'Tools the agent may call' }),
  maxTurns: z.int().min(1).max(1000).optional().meta({ description: 'Most model turns the agent may take' }),
}

const toolFields = {
  kind: z.literal('tool'),
  tool: toolNameSchema.meta({ description: 'The tool to call, e.g. http.get' }),
  input: inputMapping.default({}),
}

const approvalFields = {
  kind: z.literal('approval'),
  prompt: z
    .string()
    .min(1)
    .meta({ description: `The question put to the approvers. ${TEMPLATE_NOTE}` }),
}

const waitEventSchema = z
  .object({
    name: eventNameSchema.meta({ description: 'The external event name, e.g. deploy.finished' }),
    match: expression('CEL boolean over `event` choosing which event ends the wait').optional(),
  })
  .strict()

const waitFields = {
  kind: z.literal('wait'),
  duration: duration('Time to wait', 0).optional(),
  until: expression('CEL expression yielding an RFC 3339 timestamp string to wait for').optional(),
  event: waitEventSchema.optional().meta({ description: 'Wait for an external event' }),
}

const subworkflowFields = {
  kind: z.literal('subworkflow'),
  workflow: workflowNameSchema.meta({ description: 'Name of the workflow to run as a child' }),
  workflowHash: workflowHashSchema.optional().meta({ description: 'Pin the child to this definition hash' }),
  input: inputMapping.default({}),
}

const transformFields = {
  kind: z.literal('transform'),
  output: templated(`The step's output. ${TEMPLATE_NOTE}`),
}

type WaitShape = { duration?: number | undefined; until?: string | undefined; event?: unknown }

function checkWaitTarget(step: WaitShape, ctx: z.RefinementCtx): void {
  const given = (['duration', 'until', 'event'] as const).filter((k) => step[k] !== undefined)
  if (given.length === 1) return
  ctx.addIssue({
    code: 'custom',
    message:
      given.length === 0
        ? 'a wait step needs one of duration, until or event'
        : `a wait step takes exactly one of duration, until or event, not ${given.join(' and ')}`,
    params: { code: 'wait_target' satisfies RefinementCode },
  })
}

const bodySchema = z
  .discriminatedUnion('kind', [
    z.object({ ...bodyCommon, ...agentFields }).strict(),
    z.object({ ...bodyCommon, ...toolFields }).strict(),
    z.object({ ...bodyCommon, ...approvalFields }).strict(),
    z
      .object({ ...bodyCommon, ...waitFields })
      .strict()
      .superRefine(checkWaitTarget),
    z.object({ ...bodyCommon, ...subworkflowFields }).strict(),
    z.object({ ...bodyCommon, ...transformFields }).strict(),
  ])
  .meta({
    description: 'The step run once per item, with `item` and `index` in scope: any kind but foreach, no id or needs',
  })

const foreachFields = {
  kind: z.literal('foreach'),
  items: expression('CEL expression yielding the list to fan out over'),
  maxParallel: z.int().min(1).max(256).optional().meta({ description: 'Most items running at once (1..256)' }),
  step: bodySchema,
}

export const agentStepSchema = z
  .object({ ...common, ...agentFields })
  .strict()
  .meta({ description: 'An LLM agent' })
export const toolStepSchema = z
  .object({ ...common, ...toolFields })
  .strict()
  .meta({ description: 'One tool call' })
export const approvalStepSchema = z
  .object({ ...common, ...approvalFields })
  .strict()
  .meta({ description: 'Wait for a human decision' })
export const foreachStepSchema = z
  .object({ ...common, ...foreachFields })
  .strict()
  .meta({ description: 'Fan out over a list; the outputs are collected in order' })
export const waitStepSchema = z
  .object({ ...common, ...waitFields })
  .strict()
  .superRefine(checkWaitTarget)
  .meta({ description: 'A durable timer or an external event' })
export const subworkflowStepSchema = z
  .object({ ...common, ...subworkflowFields })
  .strict()
  .meta({ description: 'Run another workflow as a child' })
export const transformStepSchema = z
  .object({ ...common, ...transformFields })
  .strict()
  .meta({ description: 'Pure data shaping' })

export const stepSchema = z.discriminatedUnion('kind', [
  agentStepSchema,
  toolStepSchema,
  approvalStepSchema,
  foreachStepSchema,
  waitStepSchema,
  subworkflowStepSchema,
  transformStepSchema,
])

export const inputDeclarationSchema = z
  .object({
    type: z.enum(INPUT_TYPES).meta({ description: 'The JSON type of the value' }),
    required: z.boolean().default(false).meta({ description: 'A run must supply it' }),
    default: jsonValue.optional().meta({ description: 'Value when a run does not supply it' }),
    description: z.string().max(2000).optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.default === undefined) return
    if (input.required) {
      ctx.addIssue({
        code: 'custom',
        path: ['default'],
        message: 'a required input has no default: drop `required: true` or the default',
        params: { code: 'input_default' satisfies RefinementCode },
      })
    } else if (!matchesInputType(input.type, input.default)) {
      ctx.addIssue({
        code: 'custom',
        path: ['default'],
        message: `default is ${describeValue(input.default)} but the input is declared as ${article(input.type)}`,
        params: { code: 'input_default' satisfies RefinementCode },
      })
    }
  })
  .meta({ description: 'A run input' })

export const workflowSchema = z
  .object({
    $schema: z.string().optional().meta({ description: 'JSON Schema reference for editors (ignored)' }),
    name: workflowNameSchema.meta({ description: 'The workflow name' }),
    description: z.string().max(4000).optional(),
    inputs: z
      .record(inputNameSchema, inputDeclarationSchema)
      .default({})
      .meta({ description: 'Declared run inputs, read as inputs.<name>' }),
    limits: z
      .object({
        maxParallel: z.int().min(1).max(256).optional().meta({ description: 'Most steps of one run at once' }),
      })
      .strict()
      .optional()
      .meta({ description: 'Per-run limits' }),
    steps: z.array(stepSchema).min(1).meta({ description: 'The steps; they form a DAG through needs' }),
    output: templated(`The run's output. ${TEMPLATE_NOTE}`).optional(),
  })
  .strict()
  // `$schema` only helps editors; it is not part of the definition (nor of its hash).
  .transform(({ $schema: _schema, ...definition }) => definition)
  .meta({
    title: 'Shiioo workflow',
    description: 'A DAG of agent, tool, approval, foreach, wait, subworkflow and transform steps',
  })

/** A definition as written (YAML, JSON or TypeScript): durations as text, defaults omitted. */
export type WorkflowSpec = z.input<typeof workflowSchema>
/** A validated definition: durations in milliseconds, every default applied. */
export type WorkflowDefinition = z.output<typeof workflowSchema>
export type StepSpec = z.input<typeof stepSchema>
export type StepDefinition = z.output<typeof stepSchema>
export type AgentStep = z.output<typeof agentStepSchema>
export type ToolStep = z.output<typeof toolStepSchema>
export type ApprovalStep = z.output<typeof approvalStepSchema>
export type ForeachStep = z.output<typeof foreachStepSchema>
export type WaitStep = z.output<typeof waitStepSchema>
export type SubworkflowStep = z.output<typeof subworkflowStepSchema>
export type TransformStep = z.output<typeof transformStepSchema>
export type ForeachBodySpec = z.input<typeof bodySchema>
export type ForeachBody = z.output<typeof bodySchema>
export type RetryPolicy = z.output<typeof retrySchema>
export type InputDeclaration = z.output<typeof inputDeclarationSchema>
