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
export { createToolCatalog } from './catalog/catalog.js'
export type { ToolCatalogOptions } from './catalog/catalog.js'
export { isToolName, MAX_TOOL_NAME_LENGTH } from './catalog/names.js'
export type { InputProblem } from './catalog/input-validation.js'
export { builtinToolSource } from './tools/builtin-source.js'
export type { BuiltinToolsOptions } from './tools/builtin-source.js'
export { coreEchoTool, coreNoopTool } from './tools/core.js'
export { httpFetchTool, HTTP_FETCH_DEFAULTS } from './tools/http-fetch.js'
export type { HttpFetchOptions } from './tools/http-fetch.js'
export { filesTools, FILES_DEFAULTS } from './tools/files.js'
export type { FilesOptions } from './tools/files.js'
export type { FileRoot } from './tools/files-paths.js'
