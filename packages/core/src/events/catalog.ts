import { z } from 'zod'
import { auditEvents } from '../audit/entry.js'
import { identityEvents } from '../identity/events.js'
import { RUN_ID } from '../ids.js'
import { blobKeySchema, errorInfoSchema, payloadSchema } from './payload.js'
import { defineEventModule } from './registry.js'
import { upcasters as runUpcasters } from './upcasters.js'

/**
 * The event modules of core's own features: runs (their lifecycle, steps, model turns, decisions
 * and signals), idempotent starts and registered workflows. Other features declare modules of
 * their own (see registry.ts). A type's `v` only grows; a reader meeting an older `v` runs the
 * module's upcasters first, so old logs keep loading.
 */
/** A step id: what workflow definitions may use, and what step events carry. */
export const STEP_ID = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/

const stepId = z.string().regex(STEP_ID, 'a step id is a letter or _ then letters, digits, _ or -')

/** The highest foreach item position an event can carry (so a foreach fans out over at most one more). */
export const MAX_ITEM_INDEX = 1_000_000
/** The longest approval question a step.waiting event carries. */
export const MAX_WAIT_PROMPT_CHARS = 20_000

/** A foreach item's position; events of a foreach body carry it next to the foreach step's id. */
const item = z.number().int().nonnegative().max(MAX_ITEM_INDEX)
const runRef = z.string().regex(RUN_ID, 'a run id is run_ + a ULID')
/** The fields that name one attempt of a step (or of a foreach item). */
const attemptOf = { stepId, item: item.optional(), attempt: z.number().int().positive() }

export const runEvents = defineEventModule({
  name: 'runs',
  upcasters: runUpcasters,
  events: {
    'run.started': {
      v: 2,
      data: z
        .object({
          workflow: z.object({ name: z.string().min(1).max(200), hash: blobKeySchema }).strict(),
          input: payloadSchema.optional(),
          idempotencyKey: z.string().min(1).max(200).optional(),
          /** The step (and foreach item) of the run that started this one as a sub-workflow. */
          parent: z.object({ runId: runRef, stepId: stepId.optional(), item: item.optional() }).strict().optional(),
          /** The run this one was forked from, and the step it re-executes from. */
          forkOf: z.object({ runId: runRef, fromStep: stepId }).strict().optional(),
        })
        .strict(),
    },
    'step.started': {
      v: 1,
      data: z
        .object({
          ...attemptOf,
          idempotencyKey: z.string().min(1).max(300),
          /** The step's rendered input (for a foreach: the list it fans out over). */
          input: payloadSchema.optional(),
        })
        .strict(),
    },
    'step.waiting': {
      v: 1,
      data: z
        .object({
          ...attemptOf,
          for: z.enum(['approval', 'timer', 'event', 'child']),
          /** When a timer is due. */
          until: z.string().datetime().optional(),
          /** The event name an event wait matches. */
          event: z.string().min(1).max(128).optional(),
          /** The child run a sub-workflow step waits for. */
          childRunId: runRef.optional(),
          /** The rendered question an approval puts to the approvers. */
          prompt: z.string().max(MAX_WAIT_PROMPT_CHARS).optional(),
        })
        .strict(),
    },
    'step.completed': {
      v: 1,
      data: z
        .object({
          ...attemptOf,
          output: payloadSchema.optional(),
          /** Set when the output was copied from another run (a fork) instead of executed. */
          reusedFrom: runRef.optional(),
        })
        .strict(),
    },
    'step.failed': {
      v: 1,
      data: z
        .object({
          ...attemptOf,
          error: errorInfoSchema,
          willRetry: z.boolean(),
          retryAt: z.string().datetime().optional(),
        })
        .strict(),
    },
    'step.skipped': {
      v: 1,
      data: z.object({ stepId, item: item.optional(), reason: z.string().max(1000) }).strict(),
    },
    /** One model call of an agent step: what was asked and answered (in blobs when large), by which source, at what cost. */
    'agent.turn': {
      v: 1,
      data: z
        .object({
          ...attemptOf,
          turn: z.number().int().positive().max(1000),
          role: z.string().min(1).max(64).optional(),
          model: z.string().min(1).max(200),
          source: z.string().min(1).max(200),
          usage: z
            .object({ inputTokens: z.number().int().nonnegative(), outputTokens: z.number().int().nonnegative() })
            .strict(),
          cost: z.number().nonnegative(),
          /** The messages sent (system, user, earlier turns and tool results). */
          request: payloadSchema,
          /** The reply: text, tool calls and why it stopped. */
          response: payloadSchema,
        })
        .strict(),
    },
    /**
     * A tool an agent's model asked for, called (between two turns): which, with what, and what came
     * back or how it failed. Recorded before the next turn, so an attempt re-executed after a crash
     * reuses the result instead of calling the tool again.
     */
    'agent.tool': {
      v: 1,
      data: z
        .object({
          ...attemptOf,
          turn: z.number().int().positive().max(1000),
          /** The model's id for the call. */
          callId: z.string().min(1).max(200),
          tool: z.string().min(1).max(300),
          input: payloadSchema,
          output: payloadSchema.optional(),
          error: errorInfoSchema.optional(),
        })
        .strict(),
    },
    /**
     * An agent's model call waited for capacity (no source could take it at once: 'waiting'), or a
     * source took it after such a wait ('admitted'). Time between the two does not count against
     * the attempt's timeout: it is time to start, not time to finish.
     */
    'agent.queued': {
      v: 1,
      data: z
        .object({
          ...attemptOf,
          turn: z.number().int().positive().max(1000),
          state: z.enum(['waiting', 'admitted']),
        })
        .strict(),
    },
    'approval.decided': {
      v: 1,
      data: z
        .object({
          stepId,
          item: item.optional(),
          decision: z.enum(['approve', 'reject']),
          comment: z.string().max(4000).optional(),
        })
        .strict(),
    },
    'event.received': {
      v: 1,
      data: z.object({ name: z.string().min(1).max(128), payload: payloadSchema.optional() }).strict(),
    },
    'run.paused': {
      v: 1,
      data: z.object({ reason: z.string().max(1000).optional() }).strict(),
    },
    'run.resumed': {
      v: 1,
      data: z.object({}).strict(),
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
    /** On a control stream per key: the first start with an idempotency key claims it for its run. */
  },
})

/** On `idem.<hash>` control streams: which run a start's idempotency key names. */
export const idempotencyEvents = defineEventModule({
  name: 'idempotency',
  events: {
    'idempotency.claimed': {
      v: 1,
      data: z.object({ key: z.string().min(1).max(300), runId: runRef, requestHash: blobKeySchema }).strict(),
    },
  },
})

export const workflowEvents = defineEventModule({
  name: 'workflows',
  events: {
    /** On the `workflows` control stream: a definition version (its blob is the hash) under a name. */
    'workflow.registered': {
      v: 1,
      data: z.object({ name: z.string().min(1).max(200), hash: blobKeySchema }).strict(),
    },
  },
})

/**
 * Core's modules, as every catalog made without others holds them (the audit chain's is in
 * audit/entry.ts, principals' and tokens' in identity/events.ts).
 */
export const CORE_EVENT_MODULES = [runEvents, idempotencyEvents, workflowEvents, auditEvents, identityEvents] as const

/** Every event type of core's modules, for typing (`StoredEvent` is the union of these). */
export const eventSchemas = {
  ...runEvents.events,
  ...idempotencyEvents.events,
  ...workflowEvents.events,
  ...auditEvents.events,
  ...identityEvents.events,
}

export type EventSchemas = typeof eventSchemas
export type EventType = keyof EventSchemas
export type EventData<T extends EventType> = z.infer<EventSchemas[T]['data']>

export const EVENT_TYPES = Object.keys(eventSchemas) as EventType[]

export function isEventType(value: string): value is EventType {
  return Object.prototype.hasOwnProperty.call(eventSchemas, value)
}
