import type { StoredEvent } from '../events/envelope.js'
import type { RunId } from '../ids.js'
import type { LlmCall } from '../ports/index-store.js'

/** The cost ledger's rows for a run's `agent.turn` events (the workflow name comes from its summary). */
export function llmCallsOf(events: readonly StoredEvent[], workflow: string): LlmCall[] {
  const out: LlmCall[] = []
  for (const e of events) {
    if (e.type !== 'agent.turn') continue
    out.push({
      tenant: e.tenant,
      runId: e.stream as RunId,
      seq: e.seq,
      at: e.at,
      workflow,
      stepId: e.data.stepId,
      role: e.data.role ?? null,
      source: e.data.source,
      model: e.data.model,
      inputTokens: e.data.usage.inputTokens,
      outputTokens: e.data.usage.outputTokens,
      cost: e.data.cost,
    })
  }
  return out
}
