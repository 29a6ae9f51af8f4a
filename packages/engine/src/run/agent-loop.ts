import type { CapacityPool, ChatMessage, ChatResponse, ToolCall, ToolSpec } from '@shiioo/capacity'
import type { ErrorInfo, Json, TenantId } from '@shiioo/core'
import { ShiiooError, toShiiooError } from '@shiioo/core'
import type { AgentRequest, AgentResult, AgentRunner, AgentTurn, ToolInvoker } from './ports.js'

/** An agent role: who it is (system prompt), which model it uses, and its default limits. */
export interface RoleSpec {
  systemPrompt: string
  model: string
  maxTurns?: number
  maxTokens?: number
  /** The tools the role's agents may use: names, or `prefix.*`; absent: any the step lists. */
  tools?: readonly string[]
}

/** Whether a role's tool grants (names, or `prefix.*`) allow `tool`. */
export function roleAllowsTool(role: RoleSpec, tool: string): boolean {
  return (
    role.tools === undefined ||
    role.tools.some((g) => g === tool || (g.endsWith('.*') && tool.startsWith(g.slice(0, -1))) || g === '*')
  )
}

export interface ModelCall {
  tenant: TenantId
  role: string
  model: string
  messages: readonly ChatMessage[]
  tools: readonly ToolSpec[]
  maxTokens: number | undefined
  idempotencyKey: string
  signal: AbortSignal
  context: { runId: string; stepId: string }
  /** Told when the call waits for capacity and when it is admitted after a wait. */
  onQueue?: (state: 'waiting' | 'admitted') => void
  /** Streams the reply's text as it arrives (see PoolCall.onText). */
  onText?: (delta: string, from: { source: string; attempt: number }) => void
}

export interface ModelReply {
  response: ChatResponse
  /** The capacity source that answered. */
  source: string
  cost: number
}

/** The LLM as the agent loop sees it: the capacity pool, or anything that answers like it. */
export interface ModelPort {
  complete(call: ModelCall): Promise<ModelReply>
}

/** The capacity pool as a ModelPort. */
export function poolModel(pool: CapacityPool): ModelPort {
  return {
    async complete(call) {
      const r = await pool.call({
        tenant: call.tenant,
        role: call.role,
        model: call.model,
        chat: {
          messages: call.messages,
          ...(call.tools.length > 0 ? { tools: call.tools } : {}),
          ...(call.maxTokens === undefined ? {} : { maxTokens: call.maxTokens }),
          idempotencyKey: call.idempotencyKey,
        },
        signal: call.signal,
        context: call.context,
        ...(call.onQueue ? { onQueue: call.onQueue } : {}),
        ...(call.onText ? { onText: call.onText } : {}),
      })
      return { response: r.response, source: r.sourceId, cost: r.cost }
    },
  }
}

export interface AgentLoopOptions {
  model: ModelPort
  roles: Readonly<Record<string, RoleSpec>>
  /** Where the agent's tool calls go (the same port tool steps use). */
  tools: ToolInvoker
  /**
   * What the model is told about each tool it may call, or where to get it (a catalog that starts
   * its sources first).
   */
  toolSpecs: ToolSpecs | (() => Promise<ToolSpecs>)
  /** Turns when neither the step nor the role says (default 8). */
  defaultMaxTurns?: number
  /** The spec of a role `roles` does not have; without it such a role is an error. */
  fallbackRole?: (role: string) => RoleSpec
}

/** Tool name → what the model is told about it. */
export type ToolSpecs = Readonly<Record<string, Omit<ToolSpec, 'name'>>>

/** The step fails with this code when the model still asks for tools after its last turn. */
export const MAX_TURNS = 'MAX_TURNS'

/**
 * The agent step: the role's system prompt and the step's prompt go to the model; while it asks
 * for tools, they are called and their results sent back, up to the turn limit. Every turn is
 * recorded before the agent acts on it, so an attempt re-executed after a crash reuses the turns
 * it already has instead of paying for them again.
 */
export function agentLoop(options: AgentLoopOptions): AgentRunner {
  return {
    async run(request: AgentRequest): Promise<AgentResult> {
      const role = Object.prototype.hasOwnProperty.call(options.roles, request.role)
        ? options.roles[request.role]
        : options.fallbackRole?.(request.role)
      if (!role) {
        const known = Object.keys(options.roles).sort().join(', ') || 'none'
        throw new ShiiooError('INVALID_INPUT', `no agent role "${request.role}"; roles: ${known}`)
      }
      const refused = request.tools.filter((t) => !roleAllowsTool(role, t))
      if (refused.length > 0) {
        throw new ShiiooError(
          'FORBIDDEN',
          `the role ${request.role} may not use ${refused.join(', ')} (its tools: ${role.tools?.join(', ') || 'none'})`,
        )
      }
      const specs = typeof options.toolSpecs === 'function' ? await options.toolSpecs() : options.toolSpecs
      const tools = request.tools.map((name): ToolSpec => {
        const spec = Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined
        if (!spec) throw new ShiiooError('INVALID_INPUT', `tool "${name}" is not in the tool catalog`)
        return { name, ...spec }
      })
      const maxTurns = request.maxTurns ?? role.maxTurns ?? options.defaultMaxTurns ?? 8
      let messages: ChatMessage[]
      let turn: number
      const last = request.recorded.at(-1)
      if (last) {
        messages = [...(last.request as unknown as ChatMessage[])]
        const reply = last.response as unknown as Reply
        if (reply.toolCalls.length === 0) return finish(reply, request.recorded)
        messages.push({ role: 'assistant', content: reply.text, toolCalls: reply.toolCalls })
        messages.push(...(await callTools(options.tools, request, last.turn, reply.toolCalls)))
        turn = last.turn + 1
      } else {
        messages = [
          { role: 'system', content: role.systemPrompt },
          { role: 'user', content: request.prompt },
        ]
        turn = 1
      }
      const turns = [...request.recorded]
      for (; turn <= maxTurns; turn++) {
        const r = await options.model.complete({
          tenant: request.tenant,
          role: request.role,
          model: role.model,
          messages,
          tools,
          maxTokens: role.maxTokens,
          idempotencyKey: `${request.idempotencyKey}:t${turn}`,
          signal: request.signal,
          context: { runId: request.runId, stepId: request.stepId },
          onQueue: queueRecorder(request, turn),
          ...(request.onText ? { onText: textRelay(request.onText, turn) } : {}),
        })
        const reply: Reply = {
          text: r.response.text,
          toolCalls: r.response.toolCalls,
          stopReason: r.response.stopReason,
        }
        const recorded: AgentTurn = {
          turn,
          model: r.response.model,
          source: r.source,
          usage: r.response.usage,
          cost: r.cost,
          request: messages as unknown as Json,
          response: reply as unknown as Json,
        }
        await request.record(recorded)
        turns.push(recorded)
        if (reply.toolCalls.length === 0) return finish(reply, turns)
        messages = [...messages, { role: 'assistant', content: reply.text, toolCalls: reply.toolCalls }]
        messages.push(...(await callTools(options.tools, request, turn, reply.toolCalls)))
      }
      throw Object.assign(new ShiiooError('INVALID_INPUT', `the agent still wanted tools after ${maxTurns} turns`), {
        stepCode: MAX_TURNS,
      })
    },
  }
}

/**
 * Records a turn's waits for capacity in order, off the pool's path (the pool tells synchronously);
 * a record that fails (the attempt ended meanwhile) is the attempt's own business, not the call's.
 */
function queueRecorder(request: AgentRequest, turn: number): (state: 'waiting' | 'admitted') => void {
  let chain = Promise.resolve()
  return (state) => {
    chain = chain.then(() => request.queued(turn, state)).catch(() => undefined)
  }
}

/** Hands a turn's streamed text on; a listener's failure never fails the model call. */
function textRelay(
  onText: NonNullable<AgentRequest['onText']>,
  turn: number,
): (delta: string, from: { source: string; attempt: number }) => void {
  return (delta, from) => {
    try {
      onText({ turn, delta, source: from.source, call: from.attempt })
    } catch {
      // nothing of the live text is durable; a broken listener loses only its own copy
    }
  }
}

interface Reply {
  text: string
  toolCalls: ToolCall[]
  stopReason: string
}

function finish(reply: Reply, turns: readonly AgentTurn[]): AgentResult {
  const usage = turns.reduce(
    (u, t) => ({
      inputTokens: u.inputTokens + t.usage.inputTokens,
      outputTokens: u.outputTokens + t.usage.outputTokens,
    }),
    { inputTokens: 0, outputTokens: 0 },
  )
  const cost = turns.reduce((c, t) => c + t.cost, 0)
  return { output: { text: reply.text, turns: turns.length, usage, cost } }
}

/** Calls the tools a turn asked for; a failing tool is reported to the model, not thrown. */
async function callTools(
  tools: ToolInvoker,
  request: AgentRequest,
  turn: number,
  calls: readonly ToolCall[],
): Promise<ChatMessage[]> {
  const results: ChatMessage[] = []
  for (const call of calls) {
    let content: string
    if (!request.tools.includes(call.name)) {
      // the model may only use the tools the step grants, whatever it asks for
      const granted = request.tools.join(', ') || 'none'
      content = JSON.stringify({
        error: `FORBIDDEN: tool "${call.name}" is not available to this step (tools: ${granted})`,
      })
      results.push({ role: 'tool', toolCallId: call.id, name: call.name, content })
      continue
    }
    // a call this attempt made before a restart: its recorded result, not a second call
    const recorded = request.recordedTools?.find((t) => t.turn === turn && t.callId === call.id)
    let outcome: { output: Json } | { error: ErrorInfo }
    if (recorded) {
      outcome = recorded.error ? { error: recorded.error } : { output: recorded.output ?? null }
    } else {
      try {
        outcome = {
          output: await tools.invoke({
            tenant: request.tenant,
            runId: request.runId,
            stepId: request.stepId,
            item: request.item,
            attempt: request.attempt,
            idempotencyKey: `${request.idempotencyKey}:t${turn}:${call.id}`,
            signal: request.signal,
            tool: call.name,
            input: call.input,
          }),
        }
      } catch (error) {
        if (request.signal.aborted) throw error
        const e = toShiiooError(error)
        outcome = { error: { code: e.code, message: e.message.slice(0, 4000), retryable: e.retryable } }
      }
      await request.recordTool?.({ turn, callId: call.id, tool: call.name, input: call.input, ...outcome })
    }
    content =
      'output' in outcome
        ? JSON.stringify(outcome.output)
        : JSON.stringify({ error: `${outcome.error.code}: ${outcome.error.message}` })
    results.push({ role: 'tool', toolCallId: call.id, name: call.name, content })
  }
  return results
}
