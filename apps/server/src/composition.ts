// What another app composes Shiioo from (`shiioo/compose`): the one config loader and the one
// composition root, so apps/mcp opens a data dir exactly as `shiioo serve` and the CLI do.
export type { Config, ConfigFlags, LogLevel } from './config/index.js'
export { ConfigError, LOG_LEVELS, loadProcessConfig } from './config/index.js'
export type { Composed, OpenOptions } from './compose.js'
export { openOrchestrator, toolsReady } from './compose.js'
export type { McpSessionOptions } from './mcp-session.js'
export { MCP_INSTRUCTIONS, createMcpSession } from './mcp-session.js'
export { EXIT_CODES, reportError } from './cli/exit-codes.js'
export { createLogger } from './logger.js'
export type { Interruption } from './cli/shutdown.js'
export { onInterrupt } from './cli/shutdown.js'
