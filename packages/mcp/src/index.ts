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
  McpToolProvider,
  ShiiooMcpServerOptions,
} from './server/mcp-server.js'
export { IDEMPOTENCY_KEY_META, MAX_SUBSCRIPTIONS, createShiiooMcpServer, toMcpTool } from './server/mcp-server.js'
export type { McpHttpHandler, McpHttpHandlerOptions, McpSessions } from './server/http.js'
export { mcpHttpHandler } from './server/http.js'
export type { McpErrorInfo } from './server/errors.js'
export { JsonRpcError, MCP_ERRORS } from './server/errors.js'
export type { ExternalMcpSourceOptions, ExternalMcpTransport } from './external/external-source.js'
export { externalMcpSource } from './external/external-source.js'
export { catalogToolName } from './external/tool-names.js'

// the catalog and the built-in tools
export { createToolCatalog } from './catalog/catalog.js'
export type { ToolCatalogOptions } from './catalog/catalog.js'
export { isToolName, MAX_TOOL_NAME_LENGTH, TOOL_NAME_PATTERN } from './catalog/names.js'
export type { InputProblem } from './catalog/input-validation.js'
export { builtinToolSource } from './tools/builtin-source.js'
export type { BuiltinToolsOptions } from './tools/builtin-source.js'
export { coreEchoTool, coreNoopTool } from './tools/core.js'
export { httpFetchTool, HTTP_FETCH_DEFAULTS } from './tools/http-fetch.js'
export type { HttpFetchOptions } from './tools/http-fetch.js'
export { filesTools, FILES_DEFAULTS } from './tools/files.js'
export type { FilesOptions } from './tools/files.js'
export type { FileRoot } from './tools/files-paths.js'

// Shiioo's own tools (shiioo.*), written against a port that the orchestrator implements
export { shiiooToolSource } from './tools/shiioo/source.js'
export { shiiooTools } from './tools/shiioo/tools.js'
export { SHIIOO_EVENTS_LIMIT } from './tools/shiioo/port.js'
export type {
  ShiiooApprovalsRequest,
  ShiiooDecision,
  ShiiooEvent,
  ShiiooEventPage,
  ShiiooEventsRequest,
  ShiiooPendingApproval,
  ShiiooPendingApprovalPage,
  ShiiooRun,
  ShiiooRunAt,
  ShiiooRunPage,
  ShiiooRunSearch,
  ShiiooStartRequest,
  ShiiooStartedRun,
  ShiiooToolPort,
  ShiiooWorkflow,
} from './tools/shiioo/port.js'
