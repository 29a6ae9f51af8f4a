import type { Config, LoadConfigInput } from './load.js'
import { loadConfig } from './load.js'
import type { ConfigFlags } from './sources.js'
import type { Invocation } from './invocation.js'
import { invocationFrom } from './invocation.js'

export type { AppCapacityConfig, Config, LoadConfigInput } from './load.js'
export { loadConfig } from './load.js'
export type { ConfigFlags } from './sources.js'
export { ConfigError } from './error.js'
export type { LogLevel } from './schema.js'
export { LOG_LEVELS } from './schema.js'
export type { Invocation } from './invocation.js'
export { invocationFrom } from './invocation.js'

/** The one place the process environment is read. */
export function loadProcessConfig(
  flags: ConfigFlags,
  defaults?: LoadConfigInput['defaults'],
  options: { requireKeys?: boolean } = {},
): Config {
  return loadConfig({
    flags,
    defaults,
    env: process.env,
    cwd: process.cwd(),
    ...(options.requireKeys === false ? { requireKeys: false } : {}),
  })
}

/** How this process was started (PATH, npm), so that the commands the CLI prints run when pasted. */
export function readInvocation(): Invocation {
  return invocationFrom(process.env)
}
