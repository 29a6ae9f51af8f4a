import { isShiiooError } from '@shiioo/core'
import type { McpToolProvider } from '@shiioo/mcp'
import type { ToolService } from './tool-service.js'
import { callerOfTool } from './callers.js'

/**
 * The tool service as an MCP session's tools (`createShiiooMcpServer({ catalog })`), so an MCP edge
 * never calls the raw catalog: `tools/list` is `tools.list` and `tools/call` is `tools.call`, each
 * as the session's caller (the ToolCaller the session was made with, which `toolCallerOf` built
 * from the authenticated CallerContext), so every call is admitted (`tool.invoke`, then the tool's
 * own requirement) and audited, with the request's signal and idempotency key.
 */
export function mcpToolsOf(tools: ToolService): McpToolProvider {
  return {
    list: (caller) => tools.list(callerOfTool(caller)),
    async get(caller, name) {
      try {
        return await tools.get(callerOfTool(caller), name)
      } catch (err) {
        // unknown, not granted, or a caller that may see no tool at all: all "Unknown tool" to MCP
        if (isShiiooError(err) && (err.code === 'NOT_FOUND' || err.code === 'FORBIDDEN')) return undefined
        throw err
      }
    },
    call: (name, input, context) =>
      tools.call(callerOfTool(context.caller), {
        name,
        input,
        idempotencyKey: context.idempotencyKey,
        signal: context.signal,
      }),
  }
}
