import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { RUN_STATUSES } from '@shiioo/core'
import type { Orchestrator } from '@shiioo/orchestrator'
import type { AppEnv } from '../env.js'
import type { ValidationHook } from '../openapi.js'
import {
  BEARER,
  Event,
  Run,
  RunAt,
  RunIdParam,
  RunPage,
  StartedRun,
  Step,
  WorkflowSourceBody,
  errorResponses,
  idempotencyKeyHeader,
  json,
  queryInt,
} from '../schemas.js'

const security = [{ [BEARER]: [] }]
const tags = ['runs']
const params = z.object({ runId: RunIdParam })
const Reason = z.object({ reason: z.string().min(1).max(1000).optional() }).strict()

const start = createRoute({
  method: 'post',
  path: '/api/runs',
  tags,
  security,
  summary: 'Start a run',
  description:
    'Starts a run of the workflow given in the body (registering it as the current version of its name). ' +
    'With an `Idempotency-Key` header, the same key, workflow and input return the same run (200, `duplicate: true`); ' +
    'the same key with another request is refused (409).',
  request: {
    headers: idempotencyKeyHeader('Makes retrying the start safe'),
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              workflow: WorkflowSourceBody,
              input: z.record(z.string(), z.unknown()).optional().openapi({ description: 'The run’s inputs' }),
            })
            .strict()
            .openapi('StartRun'),
        },
      },
    },
  },
  responses: {
    201: json(StartedRun, 'The run started'),
    200: json(StartedRun, 'The idempotency key named a run that already existed: that run'),
    ...errorResponses(409, 413),
  },
})

const list = createRoute({
  method: 'get',
  path: '/api/runs',
  tags,
  security,
  summary: 'List runs, newest first',
  request: {
    query: z.object({
      status: z.enum(RUN_STATUSES).optional(),
      workflow: z.string().min(1).max(128).optional().openapi({ description: 'Only runs of this workflow name' }),
      limit: queryInt(1, 500).optional().openapi({ description: '1-500, default 50' }),
      cursor: z.string().min(1).max(500).optional().openapi({ description: 'A previous page’s `nextCursor`' }),
    }),
  },
  responses: { 200: json(RunPage, 'A page of runs'), ...errorResponses() },
})

const get = createRoute({
  method: 'get',
  path: '/api/runs/{runId}',
  tags,
  security,
  summary: 'A run, folded from its events, with every step of its definition',
  request: { params },
  responses: { 200: json(Run, 'The run'), ...errorResponses(404) },
})

const steps = createRoute({
  method: 'get',
  path: '/api/runs/{runId}/steps',
  tags,
  security,
  summary: 'A run’s steps, in definition order',
  request: { params },
  responses: { 200: json(z.object({ items: z.array(Step) }), 'The steps'), ...errorResponses(404) },
})

const events = createRoute({
  method: 'get',
  path: '/api/runs/{runId}/events',
  tags,
  security,
  summary: 'A run’s events in order',
  request: {
    params,
    query: z.object({
      after: queryInt(0).optional().openapi({ description: 'Only events with a greater seq' }),
    }),
  },
  responses: { 200: json(z.object({ items: z.array(Event) }), 'The events'), ...errorResponses(404) },
})

const state = createRoute({
  method: 'get',
  path: '/api/runs/{runId}/state',
  tags,
  security,
  summary: 'A run as of one of its events (time travel)',
  request: {
    params,
    query: z.object({ seq: queryInt(1).openapi({ description: 'The event’s seq' }) }),
  },
  responses: { 200: json(RunAt, 'The run as of `seq`'), ...errorResponses(404) },
})

const payload = createRoute({
  method: 'get',
  path: '/api/runs/{runId}/payloads/{blob}',
  tags,
  security,
  summary: 'The JSON value of a payload the run’s events reference by blob',
  request: {
    params: z.object({
      runId: RunIdParam,
      blob: z
        .string()
        .regex(/^[0-9a-f]{64}$/)
        .openapi({ param: { name: 'blob', in: 'path' }, description: 'The blob key: 64 lowercase hex characters' }),
    }),
  },
  responses: { 200: json(z.object({ value: z.unknown() }), 'The value'), ...errorResponses(404) },
})

const steered = json(Run, 'The run after the command was recorded')

/** Cancel and pause: a run and an optional reason. */
const withReason = <P extends string>(path: P, summary: string) =>
  createRoute({
    method: 'post',
    path,
    tags,
    security,
    summary,
    request: { params, body: { required: false, content: { 'application/json': { schema: Reason } } } },
    responses: { 200: steered, ...errorResponses(404, 409, 413) },
  })

const cancel = withReason('/api/runs/{runId}/cancel', 'Cancel a run')
const pause = withReason('/api/runs/{runId}/pause', 'Pause a run: no new step starts until it is resumed')
const resume = createRoute({
  method: 'post',
  path: '/api/runs/{runId}/resume',
  tags,
  security,
  summary: 'Resume a paused run',
  request: { params },
  responses: { 200: steered, ...errorResponses(404, 409) },
})

const replay = createRoute({
  method: 'post',
  path: '/api/runs/{runId}/replay',
  tags,
  security,
  summary: 'Re-decide a finished run against its recorded outputs, calling no agent or tool',
  request: { params },
  responses: {
    200: json(
      z
        .object({
          runId: z.string(),
          ok: z.boolean(),
          status: z.enum(RUN_STATUSES),
          replayedStatus: z.enum(RUN_STATUSES),
          mismatches: z.array(z.string()),
          events: z.number().int(),
          turns: z.number().int(),
          calls: z.number().int(),
        })
        .openapi('ReplayReport'),
      'What the replay found',
    ),
    ...errorResponses(404, 409),
  },
})

const fork = createRoute({
  method: 'post',
  path: '/api/runs/{runId}/fork',
  tags,
  security,
  summary: 'Start a new run that re-executes from a step, reusing the recorded outputs before it',
  request: {
    params,
    body: {
      required: true,
      content: { 'application/json': { schema: z.object({ fromStep: z.string().min(1).max(128) }).strict() } },
    },
  },
  responses: { 201: json(StartedRun, 'The new run'), ...errorResponses(404, 409, 413) },
})

const signal = createRoute({
  method: 'post',
  path: '/api/runs/{runId}/signals',
  tags,
  security,
  summary: 'Send an external event to a run’s wait steps',
  request: {
    params,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.object({ name: z.string().min(1).max(128), payload: z.unknown().optional() }).strict(),
        },
      },
    },
  },
  responses: { 200: json(Run, 'The run after the event was recorded'), ...errorResponses(404, 409, 413) },
})

const decide = createRoute({
  method: 'post',
  path: '/api/runs/{runId}/approvals/{stepId}',
  tags: ['approvals'],
  security,
  summary: 'Decide an approval step (it may arrive before the step waits for it)',
  request: {
    params: z.object({
      runId: RunIdParam,
      stepId: z
        .string()
        .min(1)
        .max(128)
        .openapi({ param: { name: 'stepId', in: 'path' }, description: 'The approval step' }),
    }),
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z
            .object({
              decision: z.enum(['approve', 'reject']),
              comment: z.string().max(2000).optional(),
              item: z.number().int().min(0).optional().openapi({ description: 'The item of a foreach approval step' }),
            })
            .strict()
            .openapi('Decision'),
        },
      },
    },
  },
  responses: { 200: json(Run, 'The run after the decision was recorded'), ...errorResponses(404, 409, 413) },
})

/** An optional body is absent (not validated) when the request has none or is not JSON. */
function optionalBody<T>(body: T): T | undefined {
  return body
}

/** Runs: start, list, read, steer. Each handler calls one run service method with the caller. */
export function runRoutes(orchestrator: Orchestrator, hook: ValidationHook): OpenAPIHono<AppEnv> {
  const { runs } = orchestrator
  const app = new OpenAPIHono<AppEnv>({ defaultHook: hook })
  app.openapi(start, async (c) => {
    const body = c.req.valid('json')
    const key = c.req.valid('header')['idempotency-key']
    const started = await runs.start(c.get('caller'), {
      source: body.workflow,
      ...(body.input === undefined ? {} : { input: body.input }),
      ...(key === undefined ? {} : { idempotencyKey: key }),
    })
    return started.duplicate ? c.json(started, 200) : c.json(started, 201)
  })
  app.openapi(list, async (c) => {
    const q = c.req.valid('query')
    return c.json(await runs.list(c.get('caller'), q), 200)
  })
  app.openapi(get, async (c) => c.json(await runs.get(c.get('caller'), c.req.valid('param').runId), 200))
  app.openapi(steps, async (c) => {
    const run = await runs.get(c.get('caller'), c.req.valid('param').runId)
    return c.json({ items: run.steps }, 200)
  })
  app.openapi(events, async (c) => {
    const { after } = c.req.valid('query')
    const items = await runs.events(c.get('caller'), c.req.valid('param').runId, after === undefined ? {} : { after })
    return c.json({ items }, 200)
  })
  app.openapi(state, async (c) =>
    c.json(await runs.stateAt(c.get('caller'), c.req.valid('param').runId, c.req.valid('query').seq), 200),
  )
  app.openapi(payload, async (c) => {
    const { runId, blob } = c.req.valid('param')
    return c.json({ value: await runs.payload(c.get('caller'), runId, blob) }, 200)
  })
  app.openapi(cancel, async (c) => {
    const reason = optionalBody(c.req.valid('json'))?.reason
    return c.json(await runs.cancel(c.get('caller'), c.req.valid('param').runId, reason), 200)
  })
  app.openapi(pause, async (c) => {
    const reason = optionalBody(c.req.valid('json'))?.reason
    return c.json(await runs.pause(c.get('caller'), c.req.valid('param').runId, reason), 200)
  })
  app.openapi(resume, async (c) => c.json(await runs.resumePaused(c.get('caller'), c.req.valid('param').runId), 200))
  app.openapi(replay, async (c) => c.json(await runs.replay(c.get('caller'), c.req.valid('param').runId), 200))
  app.openapi(fork, async (c) => {
    const forked = await runs.fork(c.get('caller'), c.req.valid('param').runId, c.req.valid('json'))
    return c.json(forked, 201)
  })
  app.openapi(signal, async (c) => {
    const { name, payload: value } = c.req.valid('json')
    const event = { name, ...(value === undefined ? {} : { payload: value as never }) }
    return c.json(await runs.signal(c.get('caller'), c.req.valid('param').runId, event), 200)
  })
  app.openapi(decide, async (c) => {
    const { runId, stepId } = c.req.valid('param')
    const d = c.req.valid('json')
    return c.json(
      await runs.decide(c.get('caller'), runId, {
        stepId,
        decision: d.decision,
        ...(d.comment === undefined ? {} : { comment: d.comment }),
        ...(d.item === undefined ? {} : { item: d.item }),
      }),
      200,
    )
  })
  return app
}
