import { z } from 'zod'
import { blobKeySchema, errorInfoSchema, payloadSchema } from './payload.js'

/**
 * The event catalog: every event type with its current schema version. Later subsystems add their
 * types here. A type's `v` only grows; a reader meeting an older `v` runs the upcasters in
 * `upcasters.ts` first, so old logs keep loading.
 */
/** A step id: what workflow definitions may use, and what step events carry. */
export const STEP_ID = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/

const stepId = z.string().regex(STEP_ID, 'a step id is a letter or _ then letters, digits, _ or -')

export const eventSchemas = {
  'run.started': {
    v: 1,
    data: z
      .object({
        workflow: z.object({ name: z.string().min(1).max(200), hash: blobKeySchema }).strict(),
        input: payloadSchema.optional(),
        idempotencyKey: z.string().min(1).max(200).optional(),
        parentRunId: z.string().optional(),
      })
      .strict(),
  },
  'step.started': {
    v: 1,
    data: z
      .object({ stepId, attempt: z.number().int().positive(), idempotencyKey: z.string().min(1).max(300) })
      .strict(),
  },
  'step.completed': {
    v: 1,
    data: z.object({ stepId, attempt: z.number().int().positive(), output: payloadSchema.optional() }).strict(),
  },
  'step.failed': {
    v: 1,
    data: z
      .object({
        stepId,
        attempt: z.number().int().positive(),
        error: errorInfoSchema,
        willRetry: z.boolean(),
        retryAt: z.string().datetime().optional(),
      })
      .strict(),
  },
  'step.skipped': {
    v: 1,
    data: z.object({ stepId, reason: z.string().max(1000) }).strict(),
  },
  'run.completed': {
    v: 1,
    data: z.object({ output: payloadSchema.optional() }).strict(),
  },
  'run.failed': {
    v: 1,
    data: z.object({ error: errorInfoSchema, failedStep: stepId.optional() }).strict(),
  },
  'run.cancelled': {
    v: 1,
    data: z.object({ reason: z.string().max(1000) }).strict(),
  },
} as const

export type EventSchemas = typeof eventSchemas
export type EventType = keyof EventSchemas
export type EventData<T extends EventType> = z.infer<EventSchemas[T]['data']>

export const EVENT_TYPES = Object.keys(eventSchemas) as EventType[]

export function isEventType(value: string): value is EventType {
  return Object.prototype.hasOwnProperty.call(eventSchemas, value)
}
