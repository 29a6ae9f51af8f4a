import { createClient } from '@shiioo/client'
import type { AuditEntryView, AuditPageView, AuditService, AuditVerifyView } from '@shiioo/orchestrator'
import type { RemoteServices } from '../session.js'
import { remote } from './errors.js'
import { remoteIdentity } from './identity.js'
import { remoteLive } from './live.js'
import { remoteRuns } from './runs.js'
import { remoteTools } from './tools.js'

/**
 * The services of a running server, for the CLI's commands (`--server`, `SHIIOO_SERVER`): the
 * same methods as on the data dir, each a call to the server's API as `SHIIOO_TOKEN`'s principal.
 */
export function remoteServices(server: { url: string; token: string | null }): RemoteServices {
  const client = createClient({ url: server.url, ...(server.token === null ? {} : { token: server.token }) })
  const call = <T>(result: Parameters<typeof client.data>[0]) => remote(() => client.data(result)) as Promise<T>
  const audit: AuditService = {
    list: (_caller, request = {}) => call<AuditPageView>(client.api.GET('/api/audit', { params: { query: request } })),
    verify: (_caller) => call<AuditVerifyView>(client.api.GET('/api/audit/verify')),
    export: (_caller) =>
      remote(async () => {
        const text = await call<string>(client.api.GET('/api/audit/export', { parseAs: 'text' }))
        return (async function* () {
          for (const line of text.split('\n')) if (line.trim() !== '') yield JSON.parse(line) as AuditEntryView
        })()
      }),
  }
  return {
    runs: remoteRuns(client),
    audit,
    identity: remoteIdentity(client),
    live: remoteLive(client),
    tools: remoteTools(client),
  }
}
