import type { ShiiooClient } from '@shiioo/client'
import type { Json } from '@shiioo/core'
import type { ToolService, ToolView } from '@shiioo/orchestrator'
import { remote } from './errors.js'

/** What the CLI calls of a server's tool catalog. */
export type RemoteTools = Pick<ToolService, 'list' | 'call'>

/** The tool catalog of a server: each method one REST call, as the token's principal. */
export function remoteTools(client: ShiiooClient): RemoteTools {
  const { api } = client
  const call = <T>(result: Parameters<ShiiooClient['data']>[0]) => remote(() => client.data(result)) as Promise<T>
  return {
    list: async () => (await call<{ items: ToolView[] }>(api.GET('/api/tools'))).items,
    call: async (_caller, request) => {
      const answer = await call<{ tool: string; output: Json }>(
        api.POST('/api/tools/{name}/call', {
          params: {
            path: { name: request.name },
            header: request.idempotencyKey === undefined ? {} : { 'idempotency-key': request.idempotencyKey },
          },
          // the server checks it against the tool's input schema, and answers what is wrong
          body: { input: request.input as Record<string, unknown> },
          ...(request.signal === undefined ? {} : { signal: request.signal }),
        }),
      )
      return answer.output
    },
  }
}
