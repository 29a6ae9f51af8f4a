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
