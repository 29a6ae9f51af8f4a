import type { ShiiooClient } from '@shiioo/client'
import type { AgentTextView, LiveService } from '@shiioo/orchestrator'
import { remote } from './errors.js'

const AGENT_TEXT = `subscription AgentText($runId: ID) {
  agentText(runId: $runId) { runId stepId item attempt turn call source delta skipped }
}`

/**
 * Agents' live text from a server (the GraphQL `agentText` subscription over SSE): resolves once
 * the server has subscribed, so nothing said after that is missed.
 */
export function remoteLive(client: ShiiooClient): Pick<LiveService, 'agentText'> {
  return {
    agentText: (_caller, request, signal) =>
      remote(
        () =>
          new Promise<AsyncIterable<readonly AgentTextView[]>>((resolve, reject) => {
            const results = client.subscribe<{ agentText: AgentTextView }>(
              { query: AGENT_TEXT, variables: request.runId === undefined ? {} : { runId: request.runId } },
              { signal, onOpen: () => resolve(batches()) },
            )
            // the first result (or the refusal) comes only once the subscription is open
            const first = results.next()
            first.catch(reject)
            async function* batches(): AsyncGenerator<readonly AgentTextView[]> {
              let next = await first
              while (!next.done) {
                yield [next.value.agentText]
                next = await results.next()
              }
            }
          }),
      ),
  }
}
