import type { Json, RunId } from '@shiioo/core'
import { parseRunId, toShiiooError } from '@shiioo/core'
import type { Signal } from '@shiioo/engine'
import { resolvePayload } from '@shiioo/engine'
import type { CallerContext, ServiceAction } from '../caller.js'
import { toReplayReportView } from '../views/replay.js'
import type { RunView } from '../views/run.js'
import { toRunOutcomeView, toRunView } from '../views/run.js'
import type { RunServiceDeps } from './deps.js'
import { definitionOf, needingDefinition } from './deps.js'
import { createRunQueries } from './queries.js'
import { readWorkflowSource } from '../workflow/source.js'
import { prepareStart } from './start.js'
import { takeOver } from './takeover.js'
import type { ResumeAllResult, RunService } from './types.js'

const RESUME_PAGE = 500

/** The commands that record a signal in a run's log. */
type SignalAction = Extract<ServiceAction, 'run.cancel' | 'run.pause' | 'run.resume' | 'run.decide' | 'run.signal'>

export function createRunService(deps: RunServiceDeps): RunService {
  const { engine, log, blobs, index, feed, logger, door } = deps

  const signal = async (
    caller: CallerContext,
    runIdText: string,
    s: Signal,
    action: SignalAction,
    details: Record<string, Json>,
  ): Promise<RunView> => {
    const runId = parseRunId(runIdText)
    return door.change(
      caller,
      action,
      { kind: 'run', id: runId },
      async () => {
        const { tenant } = caller
        const what = action.slice('run.'.length)
        const state = await needingDefinition(engine, { tenant, runId, what }, () =>
          engine.signal(tenant, runId, s, caller.actor),
        )
        return toRunView(state, {
          ...(await definitionOf(engine, tenant, state.workflow.hash)),
          stepsFrom: 'definition',
        })
      },
      { details, result: (run) => ({ status: run.status }) },
    )
  }

  return {
    ...createRunQueries(deps),

    async start(caller, command) {
      const main = readWorkflowSource(command.source)
      return door.change(
        caller,
        'run.start',
        { kind: 'workflow', name: main.workflow.name },
        async () => {
          const prepared = await prepareStart(engine, caller.tenant, main, command)
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
        {
          ...(command.idempotencyKey === undefined ? {} : { details: { idempotencyKey: command.idempotencyKey } }),
          result: (r) => ({ runId: r.runId, workflowHash: r.workflow.hash, duplicate: r.duplicate }),
        },
      )
    },

    async wait(caller, runIdText) {
      const runId = parseRunId(runIdText)
      return door.change(
        caller,
        'run.drive',
        { kind: 'run', id: runId },
        async () => {
          const state = await engine.wait(caller.tenant, runId)
          return toRunOutcomeView(state, await resolvePayload(blobs, caller.tenant, state.output))
        },
        { result: (outcome) => ({ status: outcome.status }) },
      )
    },

    async replay(caller, runIdText) {
      const runId = parseRunId(runIdText)
      door.admit(caller, 'run.replay', { kind: 'run', id: runId })
      const { tenant } = caller
      return toReplayReportView(
        await needingDefinition(engine, { tenant, runId, what: 'replay' }, () => engine.replay(tenant, runId)),
      )
    },

    async fork(caller, runIdText, command) {
      const runId = parseRunId(runIdText)
      return door.change(
        caller,
        'run.fork',
        { kind: 'run', id: runId },
        async () => {
          const { tenant } = caller
          const forked = await needingDefinition(engine, { tenant, runId, what: 'fork' }, () =>
            engine.fork(tenant, runId, { fromStep: command.fromStep, actor: caller.actor }),
          )
          const state = await engine.state(tenant, forked.runId)
          return {
            runId: forked.runId,
            workflow: { name: state.workflow.name, hash: forked.workflowHash },
            duplicate: forked.duplicate,
            warnings: [],
          }
        },
        { details: { fromStep: command.fromStep }, result: (r) => ({ runId: r.runId, duplicate: r.duplicate }) },
      )
    },

    cancel: (caller, runId, reason) => {
      const why = reason ?? `cancelled by ${caller.actor.id}`
      return signal(caller, runId, { kind: 'cancel', reason: why }, 'run.cancel', { reason: why })
    },
    pause: (caller, runId, reason) =>
      signal(
        caller,
        runId,
        { kind: 'pause', ...(reason === undefined ? {} : { reason }) },
        'run.pause',
        reason === undefined ? {} : { reason },
      ),
    resumePaused: (caller, runId) => signal(caller, runId, { kind: 'resume' }, 'run.resume', {}),
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
        {
          stepId: d.stepId,
          decision: d.decision,
          ...(d.item === undefined ? {} : { item: d.item }),
          ...(d.comment === undefined ? {} : { comment: d.comment }),
        },
      ),
    signal: (caller, runId, e) =>
      signal(
        caller,
        runId,
        { kind: 'event', name: e.name, ...(e.payload === undefined ? {} : { payload: e.payload }) },
        'run.signal',
        { name: e.name },
      ),

    resumeAll: (caller) =>
      door.change(caller, 'run.resume-all', { kind: 'tenant' }, () => resumeUnfinished(caller), {
        // a takeover scan that found nothing to take changed nothing: the supervisor scans every few seconds
        changed: (r) => r.resumed.length + r.failed.length > 0,
        result: (r) => ({ resumed: r.resumed.map((x) => x.runId), failed: r.failed.map((x) => x.runId) }),
      }),
  }

  async function resumeUnfinished(caller: CallerContext): Promise<ResumeAllResult> {
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
        const taken = await takeOver(engine, log, caller.tenant, runId)
        if (taken.kind === 'here') continue
        if (taken.kind === 'elsewhere') result.elsewhere.push(runId)
        else result.resumed.push({ runId, status: taken.status, lastSeq: taken.lastSeq })
      } catch (error) {
        const message = toShiiooError(error).message
        logger.error('could not resume run', { runId, tenant: caller.tenant, error: message })
        result.failed.push({ runId, message })
      }
    }
    return result
  }
}
