export type {
  JsonSchemaObject,
  Permits,
  ToolAnnotations,
  ToolCallContext,
  ToolCaller,
  ToolCatalog,
  ToolDefinition,
  ToolInfo,
  ToolRunContext,
  ToolSource,
} from './catalog/types.js'

// MCP edges: the server (stdio, Streamable HTTP) and external MCP servers as tool sources
export type {
  McpResource,
  McpResourceContents,
  McpResourceProvider,
  McpResourceTemplate,
  ShiiooMcpServerOptions,
} from './server/mcp-server.js'
export { IDEMPOTENCY_KEY_META, createShiiooMcpServer, toMcpTool } from './server/mcp-server.js'
export type { McpHttpHandler, McpHttpHandlerOptions, McpSessions } from './server/http.js'
export { mcpHttpHandler } from './server/http.js'
export type { McpErrorInfo } from './server/errors.js'
export { MCP_ERRORS } from './server/errors.js'
export type { ExternalMcpSourceOptions, ExternalMcpTransport } from './external/external-source.js'
export { externalMcpSource } from './external/external-source.js'
export { catalogToolName } from './external/tool-names.js'
