import { isAbsolute, relative } from 'node:path'
import type { Command } from 'commander'
import type { Config, ConfigFlags, LogLevel } from '../config/index.js'
import { LOG_LEVELS, loadProcessConfig } from '../config/index.js'

export interface GlobalOptions {
  dataDir?: string
  server?: string
  config?: string
  logLevel?: string
}

/**
 * Options every command takes. No commander defaults here: a default would hide the values from
 * shiioo.toml and SHIIOO_* variables, which rank below flags.
 */
export function withGlobalOptions(command: Command, defaultLogLevel: LogLevel = 'info'): Command {
  return command
    .option('--data-dir <path>', 'data directory (env SHIIOO_DATA_DIR; default ./data)')
    .option('--config <file>', 'TOML config file (default ./shiioo.toml when present)')
    .option(
      '--log-level <level>',
      `log level: ${LOG_LEVELS.join(', ')} (env SHIIOO_LOG_LEVEL; default ${defaultLogLevel})`,
    )
}

/**
 * One-shot commands default to `warn` so their output is not buried in log lines; the server
 * logs at `info`. Either yields to shiioo.toml, SHIIOO_LOG_LEVEL and --log-level.
 */
export const QUIET: LogLevel = 'warn'

export function loadCommandConfig(
  options: GlobalOptions & Pick<ConfigFlags, 'host' | 'port'>,
  defaultLogLevel?: LogLevel,
  load: { requireKeys?: boolean } = {},
): Config {
  const flags = {
    config: options.config,
    dataDir: options.dataDir,
    logLevel: options.logLevel,
    server: options.server,
    host: options.host,
    port: options.port,
  }
  return loadProcessConfig(flags, defaultLogLevel ? { logLevel: defaultLogLevel } : undefined, load)
}

/** Shows a path relative to the working directory when it is inside it, as `./data`. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path)
  if (rel === '') return '.'
  return rel.startsWith('..') || isAbsolute(rel) ? path : './' + rel
}

/**
 * The global options and `--server`, for the commands that can call a running server instead of
 * opening the data dir.
 */
export function withRemoteOptions(command: Command, defaultLogLevel?: LogLevel): Command {
  return withGlobalOptions(command, defaultLogLevel).option(
    '--server <url>',
    "call a running server's API instead of opening the data dir (env SHIIOO_SERVER; the token from SHIIOO_TOKEN)",
  )
}
