import type { ShiiooClient } from '@shiioo/client'
import type { Json } from '@shiioo/core'
import type {
  CostRowView,
  EventView,
  ReplayReportView,
  RunAtView,
  RunOutcomeView,
  RunPageView,
  RunService,
  RunView,
  StartedRun,
} from '@shiioo/orchestrator'
import { localOnly, remote } from './errors.js'
import { followRemote } from './follow.js'

const ENDED = new Set(['completed', 'failed', 'cancelled'])
const STATUS = `subscription Status($runId: ID!) { runUpdates(runId: $runId, after: "now") { run { status } } }`

/** The run service of a server: each method one REST call (acting as the token's principal). */
export function remoteRuns(client: ShiiooClient): RunService {
  const { api } = client
  const call = <T>(result: Parameters<ShiiooClient['data']>[0]) => remote(() => client.data(result)) as Promise<T>
  const path = (runId: string) => ({ params: { path: { runId } } })
  const get = (runId: string) => call<RunView>(api.GET('/api/runs/{runId}', path(runId)))

  const outcomeOf = async (run: RunView): Promise<RunOutcomeView> => {
    let output: Json | null = null
    if (run.output !== null) {
      output =
        'inline' in run.output
          ? run.output.inline
          : (
              await call<{ value: Json }>(
                api.GET('/api/runs/{runId}/payloads/{blob}', {
                  params: { path: { runId: run.runId, blob: run.output.blob } },
                }),
              )
            ).value
    }
    return {
      runId: run.runId,
      workflow: run.workflow,
      status: run.status,
      output,
      error: run.error,
      failedStep: run.failedStep,
      cancelReason: run.cancelReason,
      startedAt: run.startedAt,
      endedAt: run.endedAt,
      durationMs: run.durationMs,
    }
  }

  return {
    async start(_caller, command) {
      const { source } = command
      const workflow =
        'text' in source
          ? { text: source.text, ...(source.format ? { format: source.format } : {}) }
          : { definition: source.definition as Record<string, unknown> }
      const started = await call<StartedRun>(
        api.POST('/api/runs', {
          params: { header: command.idempotencyKey === undefined ? {} : { 'idempotency-key': command.idempotencyKey } },
          body: { workflow, ...(command.input === undefined ? {} : { input: { ...command.input } }) },
        } as never),
      )
      // the workflow files next to it stay here: the server resolves sub-workflows among those registered there
      return started
    },
    list: (_caller, request = {}) => call<RunPageView>(api.GET('/api/runs', { params: { query: request } })),
    costs: async (_caller, query) =>
      (await call<{ items: CostRowView[] }>(api.GET('/api/costs', { params: { query } } as never))).items,
    get: (_caller, runId) => get(runId),
    stateAt: (_caller, runId, seq) =>
      call<RunAtView>(api.GET('/api/runs/{runId}/state', { params: { path: { runId }, query: { seq } } })),
    events: async (_caller, runId, options) =>
      (
        await call<{ items: EventView[] }>(
          api.GET('/api/runs/{runId}/events', {
            params: { path: { runId }, query: options?.after === undefined ? {} : { after: options.after } },
          }),
        )
      ).items,
    payload: async (_caller, runId, blob) =>
      (await call<{ value: Json }>(api.GET('/api/runs/{runId}/payloads/{blob}', { params: { path: { runId, blob } } })))
        .value,
    follow: (_caller, runId, listener, options) => followRemote(client, runId, listener, options),
    wait: (_caller, runId) =>
      remote(async () => {
        const stop = new AbortController()
        try {
          let opened!: () => void
          const open = new Promise<void>((resolve) => (opened = resolve))
          const updates = client.subscribe<{ runUpdates: { run: { status: string } | null } }>(
            { query: STATUS, variables: { runId } },
            { signal: stop.signal, onOpen: () => opened() },
          )
          const next = updates.next()
          // subscribed from "now" first, then the run as it stands: an end between the two is not missed
          await Promise.race([open, next])
          let run = await get(runId)
          if (ENDED.has(run.status)) return await outcomeOf(run)
          for (let r = await next; !r.done; r = await updates.next()) {
            if (ENDED.has(r.value.runUpdates.run?.status ?? '')) {
              run = await get(runId)
              if (ENDED.has(run.status)) return await outcomeOf(run)
            }
          }
          // the server ended the subscription (it is shutting down): the run as it stands
          return await outcomeOf(await get(runId))
        } finally {
          stop.abort()
        }
      }),
    replay: (_caller, runId) => call<ReplayReportView>(api.POST('/api/runs/{runId}/replay', path(runId))),
    fork: (_caller, runId, command) =>
      call<StartedRun>(api.POST('/api/runs/{runId}/fork', { ...path(runId), body: command })),
    cancel: (_caller, runId, reason) =>
      call<RunView>(
        api.POST('/api/runs/{runId}/cancel', { ...path(runId), body: reason === undefined ? {} : { reason } } as never),
      ),
    pause: (_caller, runId, reason) =>
      call<RunView>(
        api.POST('/api/runs/{runId}/pause', { ...path(runId), body: reason === undefined ? {} : { reason } } as never),
      ),
    resumePaused: (_caller, runId) => call<RunView>(api.POST('/api/runs/{runId}/resume', path(runId))),
    decide: (_caller, runId, decision) =>
      call<RunView>(
        api.POST('/api/runs/{runId}/approvals/{stepId}', {
          params: { path: { runId, stepId: decision.stepId } },
          body: {
            decision: decision.decision,
            ...(decision.comment === undefined ? {} : { comment: decision.comment }),
            ...(decision.item === undefined ? {} : { item: decision.item }),
          },
        }),
      ),
    signal: (_caller, runId, event) =>
      call<RunView>(api.POST('/api/runs/{runId}/signals', { ...path(runId), body: event } as never)),
    resumeAll: async () => {
      throw localOnly('taking over unfinished runs (`shiioo resume`)')
    },
  }
}
