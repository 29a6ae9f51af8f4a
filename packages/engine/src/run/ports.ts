import type { ErrorInfo, Json, RunId, TenantId } from '@shiioo/core'

/** What every call made for a step attempt carries. */
export interface AttemptContext {
  tenant: TenantId
  runId: RunId
  stepId: string
  /** The foreach item, for a foreach body. */
  item: number | undefined
  attempt: number
  /** Stable for the attempt, also when it is re-executed after a crash: the callee deduplicates by it. */
  idempotencyKey: string
  /** Aborted when the attempt times out or its run is cancelled. */
  signal: AbortSignal
}

export interface AgentRequest extends AttemptContext {
  role: string
  /** The rendered step prompt. */
  prompt: string
  tools: readonly string[]
  maxTurns: number | undefined
  /** The turns this attempt already recorded (it is being re-executed after a restart): reuse, do not repeat. */
  recorded: readonly AgentTurn[]
  /** Records a turn durably in the run's log before the agent acts on it. */
  record(turn: AgentTurn): Promise<void>
  /** The tool calls this attempt already recorded (with their results): reuse, do not call again. */
  recordedTools?: readonly AgentToolCall[]
  /** Records a tool call and its result durably before the next turn. */
  recordTool?(call: AgentToolCall): Promise<void>
  /**
   * Records that a turn's model call waits for capacity, or was admitted after waiting: the
   * attempt's timeout does not run meanwhile.
   */
  queued(turn: number, state: 'waiting' | 'admitted'): Promise<void>
  /**
   * Receives the agent's text as the model produces it, when someone listens (not stored: the
   * recorded turn is what counts). Must not throw.
   */
  onText?: (text: AgentTextDelta) => void
}

/** A tool call an agent's model asked for, with its result (`agent.tool`). */
export interface AgentToolCall {
  turn: number
  callId: string
  tool: string
  input: Json
  /** What the tool returned, or how it failed (exactly one). */
  output?: Json
  error?: ErrorInfo
}

/** A piece of an agent's reply as the vendor streams it. */
export interface AgentTextDelta {
  turn: number
  delta: string
  /** The capacity source answering. */
  source: string
  /** Which call of the turn this is: after a failover the text starts again with the next one. */
  call: number
}

/** One model call of an agent step, as recorded (`agent.turn`). */
export interface AgentTurn {
  turn: number
  model: string
  source: string
  usage: { inputTokens: number; outputTokens: number }
  cost: number
  /** The messages sent. */
  request: Json
  /** The reply: `{ text, toolCalls, stopReason }`. */
  response: Json
}

export interface AgentResult {
  /** The step's output; an agent's output is at least `{ text }`. */
  output: Json
}

/**
 * The LLM port: runs an agent step (prompt, role, tools, turns). The capacity issue implements it
 * with the provider pool; until then a deterministic stand-in does.
 */
export interface AgentRunner {
  run(request: AgentRequest): Promise<AgentResult>
}

export interface ToolRequest extends AttemptContext {
  tool: string
  input: Json
}

/** The tool port: one tool call. The MCP issue implements it with the enterprise tool catalog. */
export interface ToolInvoker {
  invoke(request: ToolRequest): Promise<Json>
}
