import type { Logger } from '@shiioo/core'
import type { ToolCaller } from '@shiioo/mcp'
import { createShiiooMcpServer } from '@shiioo/mcp'
import type { Orchestrator } from '@shiioo/orchestrator'
import { mcpResourcesOf, mcpToolsOf } from '@shiioo/orchestrator'

/** What an MCP client is told about this server at `initialize`. */
export const MCP_INSTRUCTIONS =
  'Shiioo runs durable workflows of LLM agents, tools and human approvals. The shiioo.* tools find ' +
  'workflows, start runs and follow them; runs, their event logs and workflow definitions are also ' +
  'resources (shiioo://runs/{runId}, shiioo://runs/{runId}/events, shiioo://workflows/{name}), and a ' +
  'run can be subscribed to for updates.'

export interface McpSessionOptions {
  /** Who the session acts as; asked at every request (an HTTP session re-authenticates each one). */
  caller: ToolCaller | (() => ToolCaller)
  version: string
  logger: Logger
}

/**
 * One MCP session's server, for every transport (Streamable HTTP at /mcp, stdio in shiioo-mcp):
 * the orchestrator's tool service as its tools and the run and workflow services as its
 * resources, so every call is admitted and audited as the session's caller. No edge reaches
 * the raw catalog.
 */
export function createMcpSession(
  orchestrator: Pick<Orchestrator, 'tools' | 'runs' | 'workflows'>,
  options: McpSessionOptions,
): ReturnType<typeof createShiiooMcpServer> {
  return createShiiooMcpServer({
    catalog: mcpToolsOf(orchestrator.tools),
    resources: mcpResourcesOf(orchestrator),
    caller: options.caller,
    version: options.version,
    instructions: MCP_INSTRUCTIONS,
    logger: options.logger,
  })
}
