import { resolve } from 'node:path'
import type { LogLevel, Settings } from './schema.js'
import { DEFAULT_SETTINGS } from './schema.js'
import type { ConfigFlags } from './sources.js'
import { readEnvSettings, readFileSettings, readFlagSettings } from './sources.js'

export interface Config {
  host: string
  port: number
  /** Absolute path. */
  dataDir: string
  logLevel: LogLevel
  /** The engine's limits: attempts at once (all runs, one run) and how often a run polls for signals. */
  engine: { maxConcurrency: number; maxParallelPerRun: number; pollMs: number }
  /** The TOML file that was read, or null when there was none. */
  configFile: string | null
}

export interface LoadConfigInput {
  flags?: ConfigFlags
  /** A command's own defaults, ranked just above the built-in ones (a one-shot command logs less). */
  defaults?: { logLevel?: LogLevel }
  env?: Readonly<Record<string, string | undefined>>
  cwd: string
}

/**
 * Settings from lowest to highest precedence: built-in (then command) defaults, `shiioo.toml` (or `--config`),
 * `SHIIOO_*` environment variables, command-line flags. Throws ConfigError naming the setting and
 * its source when any source holds an unknown setting or a bad value.
 */
export function loadConfig(input: LoadConfigInput): Config {
  const flags = input.flags ?? {}
  const file = readFileSettings(input.cwd, flags.config)
  const commandDefaults: Settings = input.defaults?.logLevel ? { log: { level: input.defaults.logLevel } } : {}
  const layers: Settings[] = [
    DEFAULT_SETTINGS,
    commandDefaults,
    file.settings,
    readEnvSettings(input.env ?? {}),
    readFlagSettings(flags),
  ]
  const last = <T>(pick: (s: Settings) => T | undefined): T => {
    const values = layers.map(pick).filter((v): v is T => v !== undefined)
    // the defaults layer sets every value, so there is always one
    return values[values.length - 1]!
  }
  return {
    host: last((s) => s.server?.host),
    port: last((s) => s.server?.port),
    dataDir: resolve(
      input.cwd,
      last((s) => s.storage?.data_dir),
    ),
    logLevel: last((s) => s.log?.level),
    engine: {
      maxConcurrency: last((s) => s.engine?.max_concurrency),
      maxParallelPerRun: last((s) => s.engine?.max_parallel_per_run),
      pollMs: last((s) => s.engine?.poll_ms),
    },
    configFile: file.file,
  }
}
