import { createHash } from 'node:crypto'
import type { Json } from '@shiioo/core'
import { BLOB_KEY, MAX_ITEM_INDEX, RUN_ID, RUN_STATUSES, STEP_ID } from '@shiioo/core'
import type { ToolAnnotations, ToolCallContext, ToolDefinition } from '../../catalog/types.js'
import type { ShiiooApprovalsRequest, ShiiooDecision, ShiiooRunSearch, ShiiooToolPort } from './port.js'
import { SHIIOO_EVENTS_LIMIT } from './port.js'

const READ: ToolAnnotations = { readOnly: true, destructive: false, idempotent: true, openWorld: false }
/** Each start without a key is a new run. */
const START: ToolAnnotations = { readOnly: false, destructive: false, idempotent: false, openWorld: false }
/** Ends work in flight for good; a repeat changes nothing more (CONFLICT: the run already ended). */
const CANCEL: ToolAnnotations = { readOnly: false, destructive: true, idempotent: true, openWorld: false }
/** Adds a decision (what follows is the workflow's own path); a repeat changes nothing more (CONFLICT). */
const DECIDE: ToolAnnotations = { readOnly: false, destructive: false, idempotent: true, openWorld: false }

/** The runs and approvals pages' bounds, the services' own. */
const PAGE_MAX = 500
/** The idempotency key of a run start, as the engine bounds it. */
const MAX_KEY = 200
const WORKFLOW_NAME = '^[a-z][a-z0-9-]{0,62}$'

const runId = {
  type: 'string',
  pattern: RUN_ID.source,
  description: 'A run id: run_ and 26 characters, e.g. run_01JQ3Z8R5B2Y7XKZ4M6N9P0S1T.',
} as const satisfies Json
const workflowName = {
  type: 'string',
  pattern: WORKFLOW_NAME,
  description: 'A workflow name (lowercase letters, digits and -), as shiioo.workflows.list lists them.',
} as const satisfies Json
const cursor = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  description: 'The nextCursor of the previous page.',
} as const satisfies Json
const pageLimit = (what: string) =>
  ({
    type: 'integer',
    minimum: 1,
    maximum: PAGE_MAX,
    default: 50,
    description: `At most this many ${what} (default 50).`,
  }) as const satisfies Json

const VALUES =
  'Values (inputs, outputs, payloads) are inline JSON ({ "inline": ... }) or, when large, a blob reference ' +
  '({ "blob": "<64 hex>", "size", "contentType" }) that shiioo.blobs.get reads.'

/**
 * The key a start deduplicates by: the caller's, else the call's own (the same when an MCP client
 * retries with its key, or a workflow's step attempt is executed again after a crash), so a
 * retried call answers the run it started instead of starting another.
 */
function startKey(given: string | undefined, context: ToolCallContext): string {
  if (given !== undefined) return given
  const derived = `tool:${context.idempotencyKey}`
  return derived.length <= MAX_KEY
    ? derived
    : `tool:${createHash('sha256').update(context.idempotencyKey).digest('hex')}`
}

/** Shiioo's own tools over `port`: runs, events, payloads, workflows and approvals of the caller's tenant. */
export function shiiooTools(port: ShiiooToolPort): ToolDefinition[] {
  return [
    {
      name: 'shiioo.runs.get',
      title: 'Get a run',
      description:
        "Returns one run of your tenant: its status (running, paused, completed, failed or cancelled), workflow, input, output, error, every step of its workflow with the step's status, output and error, the approval decisions taken, and its cost. " +
        `Call it again to follow a run until its status is completed, failed or cancelled. ${VALUES}`,
      inputSchema: {
        type: 'object',
        properties: { runId },
        required: ['runId'],
        additionalProperties: false,
      },
      annotations: READ,
      requires: 'run.read',
      call: async (input, { caller }) => port.getRun(caller, (input as { runId: string }).runId),
    },
    {
      name: 'shiioo.runs.events',
      title: "Read a run's events",
      description:
        "Returns a run's events in order, oldest first: { events, nextAfterSeq }. Each event is { id, stream, seq, type, v, at, tenant, actor, data } (type: run.started, step.started, step.completed, step.waiting, approval.decided, run.completed, ...); seq counts from 1. " +
        `At most limit events (default ${SHIIOO_EVENTS_LIMIT.default}, at most ${SHIIOO_EVENTS_LIMIT.max}) after afterSeq; when nextAfterSeq is not null, more follow: call again with afterSeq set to it. ${VALUES}`,
      inputSchema: {
        type: 'object',
        properties: {
          runId,
          afterSeq: {
            type: 'integer',
            minimum: 0,
            default: 0,
            description: 'Only events after this seq (default 0: from the first).',
          },
          limit: {
            type: 'integer',
            minimum: 1,
            maximum: SHIIOO_EVENTS_LIMIT.max,
            default: SHIIOO_EVENTS_LIMIT.default,
            description: `At most this many events (default ${SHIIOO_EVENTS_LIMIT.default}).`,
          },
        },
        required: ['runId'],
        additionalProperties: false,
      },
      annotations: READ,
      requires: 'run.read',
      call: async (input, { caller }) => {
        const { runId: id, afterSeq, limit } = input as { runId: string; afterSeq?: number; limit?: number }
        return port.runEvents(caller, id, {
          afterSeq: afterSeq ?? 0,
          limit: limit ?? SHIIOO_EVENTS_LIMIT.default,
        })
      },
    },
    {
      name: 'shiioo.runs.state',
      title: 'A run as of one of its events',
      description:
        'Returns a run as it stood right after its event seq (time travel): the shape of shiioo.runs.get, with only the steps named by then, and asOf { seq, at }. ' +
        "seq is from 1 to the run's lastSeq (shiioo.runs.get answers it; shiioo.runs.events lists each event's seq).",
      inputSchema: {
        type: 'object',
        properties: {
          runId,
          seq: { type: 'integer', minimum: 1, description: 'The event after which to show the run.' },
        },
        required: ['runId', 'seq'],
        additionalProperties: false,
      },
      annotations: READ,
      requires: 'run.read',
      call: async (input, { caller }) => {
        const { runId: id, seq } = input as { runId: string; seq: number }
        return port.runState(caller, id, seq)
      },
    },
    {
      name: 'shiioo.runs.search',
      title: 'Search runs',
      description:
        'Lists the runs of your tenant, newest first, optionally only those with a status and/or of a workflow: { items, nextCursor }. ' +
        'Each item is a summary: runId, workflow { name, hash }, status, reason, startedAt, updatedAt, endedAt, durationMs, lastSeq, stepCount. ' +
        'When nextCursor is not null, pass it as cursor (with the same filters) for the next page. Read one run in full with shiioo.runs.get.',
      inputSchema: {
        type: 'object',
        properties: {
          status: { type: 'string', enum: [...RUN_STATUSES], description: 'Only runs with this status.' },
          workflow: { ...workflowName, description: 'Only runs of this workflow name.' },
          limit: pageLimit('runs'),
          cursor,
        },
        additionalProperties: false,
      },
      annotations: READ,
      requires: 'run.list',
      call: async (input, { caller }) => port.searchRuns(caller, input as ShiiooRunSearch),
    },
    {
      name: 'shiioo.blobs.get',
      title: 'Read a large payload',
      description:
        'Returns the JSON value of a payload stored as a blob: where a run, its steps or its events show { "blob": "<hash>", "size", "contentType" } instead of { "inline": ... }. ' +
        'Give the run that references it and the 64-hex hash; answers { runId, blob, value }. A hash the run does not reference is NOT_FOUND.',
      inputSchema: {
        type: 'object',
        properties: {
          runId,
          hash: { type: 'string', pattern: BLOB_KEY.source, description: 'The blob: 64 lowercase hex characters.' },
        },
        required: ['runId', 'hash'],
        additionalProperties: false,
      },
      annotations: READ,
      requires: 'run.read',
      call: async (input, { caller }) => {
        const { runId: id, hash } = input as { runId: string; hash: string }
        return { runId: id, blob: hash, value: await port.getBlob(caller, id, hash) }
      },
    },
    {
      name: 'shiioo.workflows.list',
      title: 'List workflows',
      description:
        'Lists the workflows registered in your tenant: { workflows: [{ name, hash, versions }] }, hash being the current version, which shiioo.runs.start runs.',
      inputSchema: { type: 'object', properties: {}, additionalProperties: false },
      annotations: READ,
      requires: 'workflow.list',
      call: async (_input, { caller }) => ({ workflows: await port.listWorkflows(caller) }),
    },
    {
      name: 'shiioo.runs.start',
      title: 'Start a run',
      description:
        'Starts a run of a registered workflow (its current version) and answers at once with { runId, workflow { name, hash }, duplicate, warnings }; the run goes on in the background: follow it with shiioo.runs.get. ' +
        "input must fit the workflow's declared inputs (INVALID_INPUT says what does not). " +
        'The same idempotencyKey with the same workflow and input answers the run it started before (duplicate: true) instead of starting another; with another workflow or input it is CONFLICT. ' +
        'Without a key, a retry of the same tool call is recognized the same way.',
      inputSchema: {
        type: 'object',
        properties: {
          workflow: { ...workflowName, description: 'The name of a registered workflow.' },
          input: {
            type: 'object',
            description: "The run's inputs, by name, as the workflow declares them (default {}).",
          },
          idempotencyKey: {
            type: 'string',
            minLength: 1,
            maxLength: MAX_KEY,
            description: 'Names this start, so that a repeat answers the same run.',
          },
        },
        required: ['workflow'],
        additionalProperties: false,
      },
      annotations: START,
      requires: 'run.start',
      call: async (input, context) => {
        const request = input as { workflow: string; input?: { [key: string]: Json }; idempotencyKey?: string }
        return port.startRun(context.caller, {
          workflow: request.workflow,
          ...(request.input === undefined ? {} : { input: request.input }),
          idempotencyKey: startKey(request.idempotencyKey, context),
        })
      },
    },
    {
      name: 'shiioo.runs.cancel',
      title: 'Cancel a run',
      description:
        'Cancels a running or paused run for good: steps in flight are stopped and no further step runs; it cannot be undone. ' +
        'Answers the run (status cancelled, cancelReason). A run that already ended is CONFLICT.',
      inputSchema: {
        type: 'object',
        properties: {
          runId,
          reason: { type: 'string', maxLength: 1000, description: 'Why, kept with the run.' },
        },
        required: ['runId'],
        additionalProperties: false,
      },
      annotations: CANCEL,
      requires: 'run.cancel',
      call: async (input, { caller }) => {
        const { runId: id, reason } = input as { runId: string; reason?: string }
        return port.cancelRun(caller, id, reason)
      },
    },
    {
      name: 'shiioo.approvals.pending',
      title: 'Approvals waiting',
      description:
        "Lists the approval steps that wait for a human decision in your tenant's running runs: { items, nextCursor }, each item { runId, workflow, stepId, item, prompt, input, waitingSince, deadline } " +
        '(item is the index of one item of a per-item approval step, null otherwise; prompt is the question put to the approvers). ' +
        'A page covers limit runs, so it may hold fewer approvals, or none, and still have a nextCursor: pass it as cursor for the next page. Decide with shiioo.approvals.decide.',
      inputSchema: {
        type: 'object',
        properties: {
          workflow: { ...workflowName, description: 'Only approvals of runs of this workflow name.' },
          limit: pageLimit('runs a page looks at'),
          cursor,
        },
        additionalProperties: false,
      },
      annotations: READ,
      requires: 'approval.list',
      call: async (input, { caller }) => port.pendingApprovals(caller, input as ShiiooApprovalsRequest),
    },
    {
      name: 'shiioo.approvals.decide',
      title: 'Decide an approval',
      description:
        'Records a decision on an approval step of a run, as shiioo.approvals.pending lists it (runId, stepId, and item for one item of a per-item step). ' +
        'approve lets the run go on; reject fails the step with REJECTED (and the run, unless its workflow goes on without it). ' +
        'Each step (or item) is decided once: a second decision is CONFLICT. Answers the run.',
      inputSchema: {
        type: 'object',
        properties: {
          runId,
          stepId: {
            type: 'string',
            pattern: STEP_ID.source,
            description: 'The approval step id, e.g. review.',
          },
          item: {
            type: 'integer',
            minimum: 0,
            maximum: MAX_ITEM_INDEX,
            description: 'The item of a per-item (foreach) approval step; leave it out otherwise.',
          },
          decision: { type: 'string', enum: ['approve', 'reject'] },
          comment: { type: 'string', maxLength: 4000, description: 'Why, kept with the decision.' },
        },
        required: ['runId', 'stepId', 'decision'],
        additionalProperties: false,
      },
      annotations: DECIDE,
      requires: 'run.decide',
      call: async (input, { caller }) => port.decideApproval(caller, input as unknown as ShiiooDecision),
    },
  ]
}
