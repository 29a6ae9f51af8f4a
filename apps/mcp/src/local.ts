import { userInfo } from 'node:os'
import type { TenantId } from '@shiioo/core'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import type { CallerContext } from '@shiioo/orchestrator'
import { localCaller, systemCaller, toolCallerOf } from '@shiioo/orchestrator'
import type { Composed, Config } from 'shiioo/compose'
import { createMcpSession, openOrchestrator, toolsReady } from 'shiioo/compose'

/** The local user: whoever can read and write the data dir, with admin rights, as the shiioo CLI acts. */
export function localUser(tenant: TenantId): CallerContext {
  let name = 'unknown'
  try {
    name = userInfo().username
  } catch {
    // no user database entry (some containers): keep the placeholder
  }
  return localCaller(name, tenant)
}

/**
 * The data dir, opened as `shiioo serve` and the CLI open it (the same config and composition
 * root), with one MCP session acting as the local user. It starts the tool sources first (a bad
 * `[[mcp.servers]]` entry stops it, naming the entry), and drives runs as a server does: those its
 * session starts, and unfinished ones no live process drives (the supervisor).
 */
export async function openLocal(
  config: Config,
  options: { tenant: TenantId; version: string },
): Promise<{ server: Server; composed: Composed; close(): Promise<void> }> {
  const composed = await openOrchestrator(config, { create: true })
  const { orchestrator, logger } = composed
  try {
    await toolsReady(composed)
  } catch (err) {
    await composed.close()
    throw err
  }
  const server = createMcpSession(orchestrator, {
    caller: toolCallerOf(localUser(options.tenant)),
    version: options.version,
    logger: logger.child({ component: 'mcp' }),
  })
  // in the background: the session answers at once, while the index catches up
  const supervising = orchestrator.supervise(systemCaller('shiioo-mcp', options.tenant), { scanMs: config.scanMs })
  supervising.catch((err: unknown) => logger.error('shiioo-mcp could not take over unfinished runs', { err }))
  return {
    server,
    composed,
    async close() {
      try {
        await (await supervising.catch(() => null))?.stop()
      } finally {
        await composed.close()
      }
    },
  }
}
