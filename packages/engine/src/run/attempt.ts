import type { EventData, Json } from '@shiioo/core'
import { ShiiooError, eventSchemas } from '@shiioo/core'
import { valueProblem } from '../value-limits.js'
import { STEP_ERROR_CODES } from './failures.js'
import type { DriverHost } from './host.js'
import { resolvePayload } from './payloads.js'
import type { Launch, Tx } from './plan.js'
import type { AgentToolCall, AgentTurn, AttemptContext } from './ports.js'
import type { RunState } from './state.js'
import { unitState } from './state.js'

/** What an attempt needs from the driver that launched it. */
export interface AttemptParts {
  host: DriverHost
  /** The run's current state (the driver replaces it on reload). */
  state: () => RunState
  /** Appends events in the run's commit order. */
  submit: (make: (tx: Tx, state: RunState) => void) => Promise<void>
  /** Hands the attempt's concurrency slot back early (a sub-workflow waiting for its child). */
  releaseSlot: () => void
}

/**
 * Performs one attempt of an agent, tool or sub-workflow step and returns its output; the driver
 * commits the outcome. `childRunId` and `recordedInput` come from the log when an attempt that
 * was in flight before a restart is performed again.
 */
export async function performAttempt(
  p: AttemptParts,
  l: Launch,
  ctx: AttemptContext,
  childRunId: string | undefined,
  recordedInput: RunState['input'] | undefined,
): Promise<Json> {
  const input =
    recordedInput === undefined ? l.input : await resolvePayload(p.host.blobs, p.state().tenant, recordedInput)
  const body = l.body
  switch (body.kind) {
    case 'agent': {
      // an attempt re-performed after a restart while its call waited for capacity: that wait is
      // over (its new call may be admitted at once and say nothing), so the timeout runs again
      const u = unitState(p.state(), l.stepId, l.item)
      if (u.attempt === l.attempt && u.queuedSince !== null)
        await recordQueued(p, l, Math.min(u.turns.length + 1, 1000), 'admitted')
      return (
        await p.host.agents.run(
          withSignal(ctx, {
            role: body.role,
            prompt: typeof input === 'string' ? input : JSON.stringify(input),
            tools: body.tools,
            maxTurns: body.maxTurns,
            recorded: await recordedTurns(p, l),
            record: (turn: AgentTurn) => recordTurn(p, l, turn),
            recordedTools: await recordedTools(p, l),
            recordTool: (call: AgentToolCall) => recordTool(p, l, call),
            queued: (turn: number, state: 'waiting' | 'admitted') => recordQueued(p, l, turn, state),
          }),
        )
      ).output
    }
    case 'tool':
      return await p.host.tools.invoke(withSignal(ctx, { tool: body.tool, input }))
    case 'subworkflow': {
      let child = childRunId
      if (child === undefined) {
        child = await p.host.children.start(p.state(), l, input)
        const started = child
        await p.submit((tx, state) => {
          const u = unitState(state, l.stepId, l.item)
          if (u.status !== 'running' || u.attempt !== l.attempt) return
          tx.emit('step.waiting', {
            stepId: l.stepId,
            ...(l.item === undefined ? {} : { item: l.item }),
            attempt: l.attempt,
            for: 'child',
            childRunId: started,
          })
        })
      }
      p.releaseSlot()
      const abandon = () =>
        void p.host.children.cancel(p.state(), child, 'the parent step ended').catch(() => undefined)
      ctx.signal.addEventListener('abort', abandon, { once: true })
      const end = await p.host.children.wait(p.state(), child, ctx.signal)
      if (end.status === 'completed') return await resolvePayload(p.host.blobs, end.tenant, end.output)
      const why =
        end.status === 'failed'
          ? `${end.error?.code ?? 'ERROR'}: ${end.error?.message ?? ''}`
          : (end.cancelReason ?? end.status)
      throw Object.assign(new ShiiooError('INTERNAL', `child run ${child} ${end.status}: ${why}`), {
        stepCode: STEP_ERROR_CODES.CHILD_FAILED,
      })
    }
  }
}

/** The turns an agent attempt recorded before a restart, with their payloads resolved. */
async function recordedTurns(p: AttemptParts, l: Launch): Promise<AgentTurn[]> {
  const u = unitState(p.state(), l.stepId, l.item)
  if (u.attempt !== l.attempt) return []
  const tenant = p.state().tenant
  return Promise.all(
    u.turns.map(async (t) => ({
      ...t,
      request: await resolvePayload(p.host.blobs, tenant, t.request),
      response: await resolvePayload(p.host.blobs, tenant, t.response),
    })),
  )
}

/** The tool calls an agent attempt recorded before a restart, with their payloads resolved. */
async function recordedTools(p: AttemptParts, l: Launch): Promise<AgentToolCall[]> {
  const u = unitState(p.state(), l.stepId, l.item)
  if (u.attempt !== l.attempt) return []
  const tenant = p.state().tenant
  return Promise.all(
    u.tools.map(async (t) => ({
      turn: t.turn,
      callId: t.callId,
      tool: t.tool,
      input: null,
      ...(t.output === null ? {} : { output: await resolvePayload(p.host.blobs, tenant, t.output) }),
      ...(t.error === null ? {} : { error: t.error }),
    })),
  )
}

/** Appends an agent's tool call and its result; refused if the attempt is no longer current. */
function recordTool(p: AttemptParts, l: Launch, call: AgentToolCall): Promise<void> {
  return p.submit((tx, state) => {
    const u = unitState(state, l.stepId, l.item)
    if (u.status !== 'running' || u.attempt !== l.attempt) {
      throw new ShiiooError('CONFLICT', `attempt ${l.attempt} of step ${l.stepId} is no longer running`)
    }
    const data: EventData<'agent.tool'> = {
      stepId: l.stepId,
      ...(l.item === undefined ? {} : { item: l.item }),
      attempt: l.attempt,
      turn: call.turn,
      callId: call.callId.slice(0, 200),
      tool: call.tool.slice(0, 300),
      input: { inline: call.input },
      ...(call.output === undefined ? {} : { output: { inline: call.output } }),
      ...(call.error === undefined ? {} : { error: call.error }),
    }
    for (const field of ['input', 'output'] as const) {
      const value = data[field]
      const problem = value && 'inline' in value ? valueProblem(value.inline, p.host.maxValueBytes) : null
      if (problem) throw new ShiiooError('INVALID_INPUT', `the ${field} of tool call ${call.tool} ${problem.message}`)
    }
    tx.emit('agent.tool', data)
  })
}

/** Appends an agent turn in the run's commit order; refused if the attempt is no longer current. */
function recordTurn(p: AttemptParts, l: Launch, turn: AgentTurn): Promise<void> {
  return p.submit((tx, state) => {
    const u = unitState(state, l.stepId, l.item)
    if (u.status !== 'running' || u.attempt !== l.attempt) {
      throw new ShiiooError('CONFLICT', `attempt ${l.attempt} of step ${l.stepId} is no longer running`)
    }
    const data: EventData<'agent.turn'> = {
      stepId: l.stepId,
      ...(l.item === undefined ? {} : { item: l.item }),
      attempt: l.attempt,
      turn: turn.turn,
      ...(l.body.kind === 'agent' ? { role: l.body.role } : {}),
      model: turn.model,
      source: turn.source,
      usage: turn.usage,
      cost: turn.cost,
      request: { inline: turn.request },
      response: { inline: turn.response },
    }
    assertRecordable(turn.turn, data, p.host.maxValueBytes)
    tx.emit('agent.turn', data)
  })
}

/** Appends that a turn's model call waits for capacity (or was admitted); nothing once the attempt is over. */
function recordQueued(p: AttemptParts, l: Launch, turn: number, state: 'waiting' | 'admitted'): Promise<void> {
  return p.submit((tx, s) => {
    const u = unitState(s, l.stepId, l.item)
    if (u.status !== 'running' || u.attempt !== l.attempt) return
    tx.emit('agent.queued', {
      stepId: l.stepId,
      ...(l.item === undefined ? {} : { item: l.item }),
      attempt: l.attempt,
      turn,
      state,
    })
  })
}

/**
 * A turn the event log would refuse (a provider's odd model name or cost, a reply nested too deep)
 * fails the attempt, naming why, instead of the commit it would be in.
 */
function assertRecordable(n: number, data: EventData<'agent.turn'>, maxBytes: number): void {
  for (const field of ['request', 'response'] as const) {
    const problem = valueProblem((data[field] as { inline: Json }).inline, maxBytes)
    if (problem) throw new ShiiooError('INVALID_INPUT', `the ${field} of model turn ${n} ${problem.message}`)
  }
  const checked = eventSchemas['agent.turn'].data.safeParse(data)
  if (!checked.success) {
    const issue = checked.error.issues[0]
    const where = issue?.path.join('.') ?? ''
    throw new ShiiooError(
      'INVALID_INPUT',
      `model turn ${n} cannot be recorded: ${where ? `${where}: ` : ''}${issue?.message ?? 'invalid'}`,
    )
  }
}

/** The context's fields and `more`, with its signal still made only when read (see LazyAbort). */
function withSignal<T extends object>(ctx: AttemptContext, more: T): AttemptContext & T {
  const { tenant, runId, stepId, item, attempt, idempotencyKey } = ctx
  return {
    tenant,
    runId,
    stepId,
    item,
    attempt,
    idempotencyKey,
    get signal() {
      return ctx.signal
    },
    ...more,
  }
}
