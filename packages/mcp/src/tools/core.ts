import type { Json } from '@shiioo/core'
import type { ToolDefinition } from '../catalog/types.js'

/** `core.echo`: answers its input as it came (a probe for wiring, permissions and audit). */
export const coreEchoTool: ToolDefinition = {
  name: 'core.echo',
  title: 'Echo',
  description: 'Returns its input unchanged. Useful to test that tools can be called.',
  inputSchema: { type: 'object', additionalProperties: true },
  annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  requires: 'tool.call',
  call: async (input: Json) => input,
}

/** `core.noop`: does nothing and answers `{}` (a step that only needs to exist). */
export const coreNoopTool: ToolDefinition = {
  name: 'core.noop',
  title: 'No-op',
  description: 'Does nothing (whatever its input) and returns an empty object.',
  inputSchema: { type: 'object', properties: {} },
  annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  requires: 'tool.call',
  call: async () => ({}),
}
