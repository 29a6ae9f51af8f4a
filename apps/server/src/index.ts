export type { AppDeps, HealthResponse } from './app.js'
export { createApp } from './app.js'
export type { Config, ConfigFlags, LoadConfigInput, LogLevel } from './config/index.js'
export { ConfigError, LOG_LEVELS, loadConfig } from './config/index.js'
