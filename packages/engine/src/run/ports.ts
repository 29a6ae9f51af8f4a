import type { Json, RunId, TenantId } from '@shiioo/core'

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
