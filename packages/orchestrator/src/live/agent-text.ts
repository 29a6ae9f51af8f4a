import type { TenantId } from '@shiioo/core'
import type { AgentRunner } from '@shiioo/engine'

/**
 * A piece of an agent's reply as the model produces it. Live only: nothing of it is stored (the
 * recorded `agent.turn` event holds the whole reply), and only the process driving the run sees it.
 */
export interface AgentTextView {
  runId: string
  stepId: string
  /** The foreach item, for a foreach body. */
  item: number | null
  attempt: number
  turn: number
  /** Which call of the turn: after a failover to another source the text starts again. */
  call: number
  /** The capacity source answering (`stand-in` without capacity configured). */
  source: string
  delta: string
  /** Deltas this subscriber missed just before this one because it fell too far behind. */
  skipped: number
}

/** Deltas a subscriber may have waiting before the oldest are dropped (and counted in `skipped`). */
const MAX_PENDING = 10_000

interface Listener {
  runId: string | undefined
  push(view: Omit<AgentTextView, 'skipped'>): void
}

/**
 * The in-process channel of agents' live text: the agent runner publishes, live subscriptions
 * (GraphQL, SSE, `shiioo run`) listen. One per orchestrator; a slow listener loses its oldest
 * deltas, never slows the model call.
 */
export class AgentTextChannel {
  private readonly listeners = new Map<TenantId, Set<Listener>>()

  publish(tenant: TenantId, view: Omit<AgentTextView, 'skipped'>): void {
    const set = this.listeners.get(tenant)
    if (!set) return
    for (const l of set) if (l.runId === undefined || l.runId === view.runId) l.push(view)
  }

  /** The tenant's deltas (of one run, or all) from now on, in batches, until `signal` aborts. */
  subscribe(tenant: TenantId, runId: string | undefined, signal: AbortSignal): AsyncIterable<AgentTextView[]> {
    let pending: AgentTextView[] = []
    let skipped = 0
    let wake: (() => void) | null = null
    const listener: Listener = {
      runId,
      push(view) {
        if (pending.length >= MAX_PENDING) {
          skipped += pending.length
          pending = []
        }
        pending.push({ ...view, skipped })
        skipped = 0
        wake?.()
      },
    }
    let set = this.listeners.get(tenant)
    if (!set) this.listeners.set(tenant, (set = new Set()))
    set.add(listener)
    const remove = () => {
      set.delete(listener)
      if (set.size === 0 && this.listeners.get(tenant) === set) this.listeners.delete(tenant)
      wake?.()
    }
    if (signal.aborted) remove()
    else signal.addEventListener('abort', remove, { once: true })
    return {
      async *[Symbol.asyncIterator]() {
        try {
          while (!signal.aborted) {
            if (pending.length === 0) {
              await new Promise<void>((resolve) => (wake = resolve))
              wake = null
              continue
            }
            const batch = pending
            pending = []
            yield batch
          }
        } finally {
          remove()
        }
      },
    }
  }
}

/** Wraps an agent runner so that its text reaches the channel as the model produces it. */
export function streamingAgents(inner: AgentRunner, channel: AgentTextChannel): AgentRunner {
  return {
    run: (request) =>
      inner.run({
        ...request,
        onText: (t) =>
          channel.publish(request.tenant, {
            runId: request.runId,
            stepId: request.stepId,
            item: request.item ?? null,
            attempt: request.attempt,
            turn: t.turn,
            call: t.call,
            source: t.source,
            delta: t.delta,
          }),
      }),
  }
}
