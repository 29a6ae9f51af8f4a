import { z } from '@hono/zod-openapi'
import { ACTOR_KINDS, ERROR_CODES, RUN_ID, RUN_STATUSES } from '@shiioo/core'
import { STEP_VIEW_KINDS, STEP_VIEW_STATUSES, WAIT_VIEW_KINDS } from '@shiioo/orchestrator'

/** The OpenAPI security scheme every protected operation names. */
export const BEARER = 'bearerAuth'

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      retryable: z.boolean(),
      details: z.record(z.string(), z.unknown()).openapi({
        description: 'More about the error: `field` names the bad input, `problems` lists each one',
      }),
      requestId: z.string().nullable().openapi({ description: 'The X-Request-Id of the request' }),
    }),
  })
  .openapi('Error')

const ERROR_TEXT = {
  400: 'Bad input: malformed JSON, a wrong type, a missing or invalid field (`details.field` names it)',
  401: 'No bearer token, or one that is not valid',
  403: 'The caller may not do this',
  404: 'No such thing in the caller’s tenant',
  409: 'A conflict with the current state (an idempotency key reused with another request, a run that cannot do this now)',
  413: 'The request body is larger than the server accepts',
  429: 'Too many requests, or a quota used up',
  503: 'Not available now; retry later',
} as const
export type ErrorStatus = keyof typeof ERROR_TEXT

/** The documented error responses of an operation (every protected one has 400, 401, 403, 429 and 503). */
export function errorResponses(...statuses: ErrorStatus[]) {
  const all: ErrorStatus[] = [...new Set([400, 401, 403, 429, 503, ...statuses] as ErrorStatus[])]
  return Object.fromEntries(
    all.map((s) => [s, { description: ERROR_TEXT[s], content: { 'application/json': { schema: ErrorSchema } } }]),
  ) as Record<ErrorStatus, { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }>
}

export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } }
}

/** A whole number in a query string (documented as the integer it is, not the string it arrives as). */
export function queryInt(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return z.coerce.number().int().min(min).max(max).openapi({ type: 'integer' })
}

/** The `Idempotency-Key` header of an operation that a client may retry safely with it. */
export function idempotencyKeyHeader(description: string) {
  return z.object({
    'idempotency-key': z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ param: { name: 'idempotency-key', in: 'header' }, description }),
  })
}

export const RunIdParam = z
  .string()
  .regex(RUN_ID)
  .openapi({
    param: { name: 'runId', in: 'path' },
    description: 'A run id: run_ followed by a 26-character ULID',
    example: 'run_01JH0000000000000000000000',
  })

export const Actor = z.object({ kind: z.enum(ACTOR_KINDS), id: z.string() }).openapi('Actor')
export const RunStatus = z.enum(RUN_STATUSES).openapi('RunStatus')
const Instant = z.string().openapi({ description: 'ISO-8601 UTC instant', example: '2026-12-03T09:00:00.000Z' })

export const Payload = z
  .union([
    z.object({ inline: z.unknown() }),
    z.object({ blob: z.string(), size: z.number().int(), contentType: z.string() }),
  ])
  .nullable()
  .openapi('Payload', {
    description: 'A value inline, or a reference to a blob of the run (GET /api/runs/{runId}/payloads/{blob})',
  })

const ErrorView = z.object({ code: z.string(), message: z.string(), retryable: z.boolean() }).nullable()
const Cost = z
  .object({ calls: z.number(), inputTokens: z.number(), outputTokens: z.number(), cost: z.number() })
  .nullable()
  .openapi('Cost')

export const WorkflowRef = z.object({ name: z.string(), hash: z.string() })

const RunHead = {
  runId: z.string(),
  tenant: z.string(),
  workflow: WorkflowRef,
  status: RunStatus,
  reason: z.string().nullable(),
  startedAt: Instant,
  updatedAt: Instant,
  endedAt: Instant.nullable(),
  durationMs: z.number().nullable(),
  lastSeq: z.number().int(),
}

export const RunListItem = z.object({ ...RunHead, stepCount: z.number().int() }).openapi('RunListItem')
export const RunPage = z
  .object({ items: z.array(RunListItem), nextCursor: z.string().nullable() })
  .openapi('RunPage', { description: 'Pass `nextCursor` back as `cursor` for the next page; null on the last' })

const StepStatus = z.enum(STEP_VIEW_STATUSES)
const StepKind = z.enum(STEP_VIEW_KINDS)
const Unit = {
  status: StepStatus,
  attempts: z.number().int(),
  startedAt: Instant.nullable(),
  endedAt: Instant.nullable(),
  durationMs: z.number().nullable(),
  input: Payload,
  output: Payload,
  error: ErrorView,
  retryAt: Instant.nullable(),
  wait: z
    .object({
      for: z.enum(WAIT_VIEW_KINDS),
      until: z.string().nullable(),
      event: z.string().nullable(),
      childRunId: z.string().nullable(),
    })
    .nullable(),
  skipReason: z.string().nullable(),
  reusedFrom: z.string().nullable(),
  turns: z.array(
    z.object({
      turn: z.number().int(),
      model: z.string(),
      source: z.string(),
      usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }),
      cost: z.number(),
      request: Payload,
      response: Payload,
    }),
  ),
}
const UnitSchema = z.object(Unit).openapi('Unit')
export const Step = z
  .object({
    stepId: z.string(),
    kind: StepKind.nullable(),
    itemKind: StepKind.nullable(),
    ...Unit,
    items: z.array(UnitSchema).nullable(),
    cost: Cost,
  })
  .openapi('Step')

const RunBody = {
  ...RunHead,
  input: Payload,
  output: Payload,
  error: ErrorView,
  failedStep: z.string().nullable(),
  cancelReason: z.string().nullable(),
  idempotencyKey: z.string().nullable(),
  parent: z.object({ runId: z.string(), stepId: z.string().nullable(), item: z.number().nullable() }).nullable(),
  forkOf: z.object({ runId: z.string(), fromStep: z.string() }).nullable(),
  definitionStored: z.boolean(),
  definitionProblem: z.enum(['not-stored', 'damaged']).nullable(),
  stepsFrom: z.enum(['definition', 'events']),
  steps: z.array(Step),
  decisions: z.array(
    z.object({
      stepId: z.string(),
      item: z.number().nullable(),
      decision: z.enum(['approve', 'reject']),
      comment: z.string().nullable(),
      actor: Actor,
      at: Instant,
      seq: z.number().int(),
    }),
  ),
  receivedEvents: z.array(z.object({ name: z.string(), payload: Payload, at: Instant, seq: z.number().int() })),
  cost: Cost,
}
export const Run = z.object(RunBody).openapi('Run')
export const RunAt = z.object({ ...RunBody, asOf: z.object({ seq: z.number().int(), at: Instant }) }).openapi('RunAt')

export const Event = z
  .object({
    id: z.string(),
    stream: z.string(),
    seq: z.number().int(),
    type: z.string(),
    v: z.number().int(),
    at: Instant,
    tenant: z.string(),
    actor: Actor,
    data: z.unknown().openapi({ description: 'The event’s data, as documented for its `type`' }),
  })
  .openapi('Event')

export const StartedRun = z
  .object({
    runId: z.string(),
    workflow: WorkflowRef,
    duplicate: z.boolean().openapi({ description: 'True when the idempotency key named a run that already existed' }),
    warnings: z.array(z.string()),
  })
  .openapi('StartedRun')

export const CostRow = z
  .object({ key: z.string(), calls: z.number(), inputTokens: z.number(), outputTokens: z.number(), cost: z.number() })
  .openapi('CostRow')

/** A workflow definition given in a JSON body: YAML or JSON text, or the definition as a JSON object. */
export const WorkflowSourceBody = z
  .union([
    z.object({
      text: z.string().min(1).openapi({ description: 'The definition as YAML or JSON text' }),
      format: z.enum(['yaml', 'json']).optional(),
    }),
    z.object({ definition: z.record(z.string(), z.unknown()).openapi({ description: 'The definition as an object' }) }),
  ])
  .openapi('WorkflowSource')
