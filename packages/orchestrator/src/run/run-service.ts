import type { BlobStore, EventLog, IndexStore, Logger, RunId, RunListItem, Page } from '@shiioo/core'
import { RUN_STATUSES, ShiiooError, parseRunId, toShiiooError } from '@shiioo/core'
import type { Engine, RunState, Signal } from '@shiioo/engine'
import { resolvePayload } from '@shiioo/engine'
import type { CallerContext, ServiceAction } from '../caller.js'
import { admit } from '../caller.js'
import type { IndexFeed } from '../index-feed.js'
import { followRun } from './follow.js'
import { prepareStart } from './start.js'
import type { ResumeAllResult, RunListRequest, RunService } from './types.js'

export interface RunServiceDeps {
  engine: Engine
  log: EventLog
  blobs: BlobStore
  index: IndexStore
  feed: IndexFeed
  logger: Logger
}

const RESUME_PAGE = 500

export function createRunService(deps: RunServiceDeps): RunService {
  const { engine, log, blobs, index, feed, logger } = deps

  const signal = (caller: CallerContext, runId: string, s: Signal, action: ServiceAction): Promise<RunState> => {
    admit(caller, action)
    return engine.signal(caller.tenant, parseRunId(runId), s, caller.actor)
  }

  return {
    async start(caller, command) {
      admit(caller, 'run.start')
      const prepared = await prepareStart(engine, caller.tenant, command)
      for (const w of prepared.others) await engine.definitions.register(caller.tenant, w.workflow)
      await engine.definitions.register(caller.tenant, prepared.main.workflow)
      const started = await engine.start({
        tenant: caller.tenant,
        definition: prepared.main.workflow,
        input: command.input ?? {},
        actor: caller.actor,
        ...(command.idempotencyKey === undefined ? {} : { idempotencyKey: command.idempotencyKey }),
      })
      return {
        runId: started.runId,
        workflow: { name: prepared.main.workflow.name, hash: started.workflowHash },
        duplicate: started.duplicate,
        warnings: prepared.warnings,
      }
    },

    async list(caller, request: RunListRequest = {}): Promise<Page<RunListItem>> {
      admit(caller, 'run.list')
      if (request.status !== undefined && !RUN_STATUSES.includes(request.status)) {
        throw new ShiiooError('INVALID_INPUT', `status must be one of ${RUN_STATUSES.join(', ')}`, {
          details: { field: 'status' },
        })
      }
      const limit = request.limit ?? 50
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
        throw new ShiiooError('INVALID_INPUT', `limit must be a whole number from 1 to 500, not ${limit}`, {
          details: { field: 'limit' },
        })
      }
      await feed.current()
      return index.listRuns({ ...request, limit, tenant: caller.tenant })
    },

    async costs(caller, query) {
      admit(caller, 'cost.read')
      const runId = query.runId === undefined ? undefined : parseRunId(query.runId, 'runId')
      await feed.current()
      return index.costs({
        tenant: caller.tenant,
        by: query.by,
        ...(query.from === undefined ? {} : { from: query.from }),
        ...(query.before === undefined ? {} : { before: query.before }),
        ...(runId === undefined ? {} : { runId }),
      })
    },

    async get(caller, runIdText) {
      admit(caller, 'run.get')
      const runId = parseRunId(runIdText)
      const state = await engine.state(caller.tenant, runId)
      const [summary, compiled, output] = await Promise.all([
        feed.current().then(() => index.getRun({ tenant: caller.tenant, runId })),
        engine.definitions.get(caller.tenant, state.workflow.hash),
        resolvePayload(blobs, caller.tenant, state.output),
      ])
      return { summary, state, definition: compiled.definition, output }
    },

    async stateAt(caller, runIdText, seq) {
      admit(caller, 'run.get')
      const runId = parseRunId(runIdText)
      const last = await log.version({ tenant: caller.tenant, stream: runId })
      if (last === 0) throw new ShiiooError('NOT_FOUND', `no run ${runId} in tenant ${caller.tenant}`)
      if (!Number.isInteger(seq) || seq < 1 || seq > last) {
        throw new ShiiooError('INVALID_INPUT', `seq must be a whole number from 1 to ${last} (the run's last event)`, {
          details: { field: 'seq' },
        })
      }
      return engine.state(caller.tenant, runId, seq)
    },

    async events(caller, runIdText) {
      admit(caller, 'run.get')
      const runId = parseRunId(runIdText)
      const events = await log.read({ tenant: caller.tenant, stream: runId })
      if (events.length === 0) throw new ShiiooError('NOT_FOUND', `no run ${runId} in tenant ${caller.tenant}`)
      return events
    },

    follow(caller, runIdText, listener, options) {
      admit(caller, 'run.get')
      const runId = parseRunId(runIdText)
      return followRun(log, logger, { tenant: caller.tenant, runId }, listener, options)
    },

    async wait(caller, runIdText) {
      admit(caller, 'run.get')
      return engine.wait(caller.tenant, parseRunId(runIdText))
    },

    async replay(caller, runIdText) {
      admit(caller, 'run.replay')
      return engine.replay(caller.tenant, parseRunId(runIdText))
    },

    async fork(caller, runIdText, command) {
      admit(caller, 'run.fork')
      const runId = parseRunId(runIdText)
      const forked = await engine.fork(caller.tenant, runId, { fromStep: command.fromStep, actor: caller.actor })
      const state = await engine.state(caller.tenant, forked.runId)
      return {
        runId: forked.runId,
        workflow: { name: state.workflow.name, hash: forked.workflowHash },
        duplicate: forked.duplicate,
        warnings: [],
      }
    },

    cancel: (caller, runId, reason) =>
      signal(caller, runId, { kind: 'cancel', reason: reason ?? `cancelled by ${caller.actor.id}` }, 'run.cancel'),
    pause: (caller, runId, reason) =>
      signal(caller, runId, { kind: 'pause', ...(reason === undefined ? {} : { reason }) }, 'run.pause'),
    resumePaused: (caller, runId) => signal(caller, runId, { kind: 'resume' }, 'run.resume'),
    decide: (caller, runId, d) =>
      signal(
        caller,
        runId,
        {
          kind: 'decision',
          stepId: d.stepId,
          decision: d.decision,
          ...(d.comment === undefined ? {} : { comment: d.comment }),
          ...(d.item === undefined ? {} : { item: d.item }),
        },
        'run.decide',
      ),
    signal: (caller, runId, e) =>
      signal(
        caller,
        runId,
        { kind: 'event', name: e.name, ...(e.payload === undefined ? {} : { payload: e.payload }) },
        'run.signal',
      ),

    async resumeAll(caller) {
      admit(caller, 'run.resume-all')
      await feed.current()
      const unfinished: RunId[] = []
      for (const status of ['running', 'paused'] as const) {
        let cursor: string | undefined
        do {
          const page = await index.listRuns({
            tenant: caller.tenant,
            status,
            limit: RESUME_PAGE,
            ...(cursor === undefined ? {} : { cursor }),
          })
          unfinished.push(...page.items.map((r) => r.runId))
          cursor = page.nextCursor ?? undefined
        } while (cursor !== undefined)
      }
      const result: ResumeAllResult = { resumed: [], elsewhere: [], failed: [] }
      // oldest first: a parent resumes before the children it waits for
      for (const runId of unfinished.sort()) {
        try {
          if (await engine.drivenElsewhere(caller.tenant, runId)) {
            result.elsewhere.push(runId)
            continue
          }
          const version = await log.version({ tenant: caller.tenant, stream: runId })
          const state = await engine.resume(caller.tenant, runId)
          result.resumed.push({ runId, status: state.status, version })
        } catch (error) {
          const message = toShiiooError(error).message
          logger.error('could not resume run', { runId, tenant: caller.tenant, error: message })
          result.failed.push({ runId, message })
        }
      }
      return result
    },
  }
}
