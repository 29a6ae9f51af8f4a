import type { Config, LoadConfigInput } from './load.js'
import { loadConfig } from './load.js'
import type { ConfigFlags } from './sources.js'

export type { Config, LoadConfigInput } from './load.js'
export { loadConfig } from './load.js'
export type { ConfigFlags } from './sources.js'
export { ConfigError } from './error.js'
export type { LogLevel } from './schema.js'
export { LOG_LEVELS } from './schema.js'

/** The one place the process environment is read. */
export function loadProcessConfig(flags: ConfigFlags, defaults?: LoadConfigInput['defaults']): Config {
  return loadConfig({ flags, defaults, env: process.env, cwd: process.cwd() })
}
