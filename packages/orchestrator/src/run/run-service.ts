import type { RunId } from '@shiioo/core'
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
  const { engine, log, blobs, index, feed, logger, gate } = deps

  const signal = async (
    caller: CallerContext,
    runIdText: string,
    s: Signal,
    action: SignalAction,
  ): Promise<RunView> => {
    const runId = parseRunId(runIdText)
    gate(caller, action, { kind: 'run', id: runId })
    const { tenant } = caller
    const what = action.slice('run.'.length)
    const state = await needingDefinition(engine, { tenant, runId, what }, () =>
      engine.signal(tenant, runId, s, caller.actor),
    )
    return toRunView(state, { ...(await definitionOf(engine, tenant, state.workflow.hash)), stepsFrom: 'definition' })
  }

  return {
    ...createRunQueries(deps),

    async start(caller, command) {
      const main = readWorkflowSource(command.source)
      gate(caller, 'run.start', { kind: 'workflow', name: main.workflow.name })
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

    async wait(caller, runIdText) {
      const runId = parseRunId(runIdText)
      gate(caller, 'run.drive', { kind: 'run', id: runId })
      const state = await engine.wait(caller.tenant, runId)
      return toRunOutcomeView(state, await resolvePayload(blobs, caller.tenant, state.output))
    },

    async replay(caller, runIdText) {
      const runId = parseRunId(runIdText)
      gate(caller, 'run.replay', { kind: 'run', id: runId })
      const { tenant } = caller
      return toReplayReportView(
        await needingDefinition(engine, { tenant, runId, what: 'replay' }, () => engine.replay(tenant, runId)),
      )
    },

    async fork(caller, runIdText, command) {
      const runId = parseRunId(runIdText)
      gate(caller, 'run.fork', { kind: 'run', id: runId })
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
      gate(caller, 'run.resume-all', { kind: 'tenant' })
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
          if (taken.kind === 'elsewhere') result.elsewhere.push(runId)
          else result.resumed.push({ runId, status: taken.status, lastSeq: taken.lastSeq })
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
