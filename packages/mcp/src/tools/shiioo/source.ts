import type { ToolSource } from '../../catalog/types.js'
import type { ShiiooToolPort } from './port.js'
import { shiiooTools } from './tools.js'

/**
 * Shiioo's own tools, as the source `shiioo`: its runs, events, payloads, workflows and approvals,
 * for MCP clients and for agents. Each tool requires the service action it performs (`run.read`,
 * `run.start`, `run.decide`, ...), so a caller sees only what its roles may do; `port` (the
 * orchestrator's services) admits and audits every call again.
 */
export function shiiooToolSource(port: ShiiooToolPort): ToolSource {
  const tools = Object.freeze(shiiooTools(port))
  return { id: 'shiioo', tools: () => tools }
}
