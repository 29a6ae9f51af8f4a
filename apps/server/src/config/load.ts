import { statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { CapacityConfig, SourceConfig } from '@shiioo/orchestrator'
import { ConfigError } from './error.js'
import type { ToolsConfig } from './tools.js'
import { toolsConfigOf } from './tools.js'
import type { LogLevel, Settings } from './schema.js'
import { DEFAULT_SETTINGS } from './schema.js'
import type { ConfigFlags } from './sources.js'
import { readEnvSettings, readFileSettings, readFlagSettings } from './sources.js'

export interface Config {
  host: string
  port: number
  /** Absolute path. */
  dataDir: string
  /**
   * How long this process's heartbeat may be silent before another process takes over its runs,
   * journal and locks (ms). Every process on a data dir should use the same value.
   */
  leaseTtlMs: number
  logLevel: LogLevel
  /** LLM capacity sources (keys resolved from their environment variables) and agent roles; null: none configured. */
  capacity: AppCapacityConfig | null
  /** The engine's limits: attempts at once (all runs, one run). */
  engine: { maxConcurrency: number; maxParallelPerRun: number }
  /** The HTTP API's limits: browser origins allowed by CORS (none: closed), the largest request body. */
  http: { corsOrigins: string[]; maxBodyBytes: number }
  /** How often the server looks for unfinished runs no live process drives (ms). */
  scanMs: number
  /** The built-in tools' limits and the external MCP servers (secrets read from their variables). */
  tools: ToolsConfig
  /** The TOML file that was read, or null when there was none. */
  configFile: string | null
  /**
   * `SHIIOO_ADMIN_TOKEN`: a token the server's admin principal must have (the first start adds it);
   * null when unset. A secret: never logged (the logger redacts `adminToken`) or printed.
   */
  adminToken: string | null
  /**
   * A running server the CLI's commands call instead of opening the data dir (`--server`,
   * `SHIIOO_SERVER`, `[client] server`), with the API token it sends (`SHIIOO_TOKEN`, a secret:
   * environment only, redacted by the logger); null when unset.
   */
  remote: { url: string; token: string | null } | null
}

/** The capacity settings, and whether the sources' rate windows are shared through the data dir. */
export interface AppCapacityConfig extends CapacityConfig {
  shareLimits: boolean
}

export interface LoadConfigInput {
  flags?: ConfigFlags
  /** A command's own defaults, ranked just above the built-in ones (a one-shot command logs less). */
  defaults?: { logLevel?: LogLevel }
  env?: Readonly<Record<string, string | undefined>>
  cwd: string
  /**
   * Whether every capacity source's key must be set (default true). A command that calls no model
   * (`costs`, `events`, `runs list`) reads the data dir without them: their sources get no key.
   */
  requireKeys?: boolean
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
  const baseDir = file.file === null ? input.cwd : dirname(file.file)
  const toolProblems: string[] = []
  const tools = toolsConfigOf(
    layers.map((s) => s.tools).findLast((t) => t !== undefined) ?? null,
    layers.map((s) => s.mcp).findLast((m) => m !== undefined) ?? null,
    input.env ?? {},
    baseDir,
    input.requireKeys ?? true,
    toolProblems,
  )
  if (toolProblems.length > 0) throw new ConfigError(toolProblems)
  return {
    host: last((s) => s.server?.host),
    port: last((s) => s.server?.port),
    dataDir: resolve(
      input.cwd,
      last((s) => s.storage?.data_dir),
    ),
    leaseTtlMs: last((s) => s.storage?.lease_ttl_ms),
    logLevel: last((s) => s.log?.level),
    engine: {
      maxConcurrency: last((s) => s.engine?.max_concurrency),
      maxParallelPerRun: last((s) => s.engine?.max_parallel_per_run),
    },
    scanMs: last((s) => s.engine?.scan_ms),
    http: {
      corsOrigins: [...last((s) => s.http?.cors_origins)],
      maxBodyBytes: last((s) => s.http?.max_body_bytes),
    },
    capacity: capacityOf(
      layers.map((s) => s.capacity).findLast((c) => c !== undefined) ?? null,
      layers.map((s) => s.roles).findLast((r) => r !== undefined) ?? null,
      input.env ?? {},
      baseDir,
      input.requireKeys ?? true,
    ),
    tools,
    configFile: file.file,
    adminToken: adminTokenOf(input.env ?? {}),
    remote: remoteOf(
      layers.map((l) => l.client?.server).findLast((u) => u !== undefined),
      input.env ?? {},
    ),
  }
}

/** The shortest admin token accepted: at least 192 bits when it is base64 (`openssl rand -base64 32` gives 44). */
const ADMIN_TOKEN = /^[\x21-\x7e]{32,512}$/

/** `SHIIOO_ADMIN_TOKEN`, checked; a bad one is named, its value never shown. */
function adminTokenOf(env: Readonly<Record<string, string | undefined>>): string | null {
  const token = env.SHIIOO_ADMIN_TOKEN
  if (token === undefined || token === '') return null
  if (!ADMIN_TOKEN.test(token)) {
    throw new ConfigError([
      `SHIIOO_ADMIN_TOKEN: must be 32-512 printable characters without spaces (it has ${token.length}; make one with \`openssl rand -base64 32\`)`,
    ])
  }
  return token
}

/** A simulated source's script, which must be a file: found missing now, not at the first agent step. */
function scriptPath(id: string, script: string, baseDir: string, problems: string[]): string {
  const path = resolve(baseDir, script)
  let isFile: boolean
  try {
    isFile = statSync(path).isFile()
  } catch {
    problems.push(
      `capacity source ${id}: script ${script} does not exist (${path}; a path relative to the config file)`,
    )
    return path
  }
  if (!isFile) problems.push(`capacity source ${id}: script ${script} is not a file (${path})`)
  return path
}

/** The capacity settings as the orchestrator takes them, each key read from the variable named for it. */
function capacityOf(
  capacity: Settings['capacity'] | null,
  roles: Settings['roles'] | null,
  env: Readonly<Record<string, string | undefined>>,
  baseDir: string,
  requireKeys: boolean,
): AppCapacityConfig | null {
  const sources = capacity?.sources ?? []
  if (sources.length === 0) return null
  const problems: string[] = []
  const seen = new Set<string>()
  const out = sources.map((s, i): SourceConfig => {
    if (seen.has(s.id)) problems.push(`capacity.sources[${i}].id: "${s.id}" is used twice`)
    seen.add(s.id)
    let apiKey: string | undefined
    if (s.api_key_env !== undefined) {
      apiKey = env[s.api_key_env]
      if (!apiKey && requireKeys)
        problems.push(
          `capacity source ${s.id}: environment variable ${s.api_key_env} is not set (its API key is read from it)`,
        )
    } else if (s.provider === 'anthropic' && requireKeys) {
      problems.push(`capacity source ${s.id}: set api_key_env to the environment variable that holds its API key`)
    }
    const limits = {
      ...(s.requests_per_minute === undefined ? {} : { requestsPerMinute: s.requests_per_minute }),
      ...(s.tokens_per_minute === undefined ? {} : { tokensPerMinute: s.tokens_per_minute }),
      ...(s.tokens_per_day === undefined ? {} : { tokensPerDay: s.tokens_per_day }),
      ...(s.max_concurrent === undefined ? {} : { maxConcurrent: s.max_concurrent }),
    }
    return {
      id: s.id,
      provider: s.provider,
      models: s.models,
      limits,
      prices: { inputPer1M: s.price_input_per_1m ?? 0, outputPer1M: s.price_output_per_1m ?? 0 },
      ...(s.base_url === undefined ? {} : { baseUrl: s.base_url }),
      ...(apiKey === undefined ? {} : { apiKey }),
      ...(s.azure_api_version === undefined ? {} : { azureApiVersion: s.azure_api_version }),
      // a script path is relative to the config file that names it
      ...(s.script === undefined ? {} : { script: scriptPath(s.id, s.script, baseDir, problems) }),
      ...(s.priority === undefined ? {} : { priority: s.priority }),
      ...(s.tenants === undefined ? {} : { tenants: s.tenants }),
      ...(s.roles === undefined ? {} : { roles: s.roles }),
      ...(s.enabled === undefined ? {} : { enabled: s.enabled }),
    }
  })
  if (problems.length > 0) throw new ConfigError(problems)
  const roleSpecs: CapacityConfig['roles'] = {}
  for (const [name, r] of Object.entries(roles ?? {})) {
    roleSpecs[name] = {
      systemPrompt: r.system_prompt,
      model: r.model,
      ...(r.max_turns === undefined ? {} : { maxTurns: r.max_turns }),
      ...(r.max_tokens === undefined ? {} : { maxTokens: r.max_tokens }),
      ...(r.tools === undefined ? {} : { tools: r.tools }),
    }
  }
  return {
    sources: out,
    roles: roleSpecs,
    ...(capacity?.default_model ? { defaultModel: capacity.default_model } : {}),
    ...(capacity?.max_wait_ms === undefined ? {} : { maxWaitMs: capacity.max_wait_ms }),
    shareLimits: capacity?.share_limits ?? true,
  }
}

/** The server the CLI calls, if one is set, with `SHIIOO_TOKEN` (checked, never shown). */
function remoteOf(
  url: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { url: string; token: string | null } | null {
  const token = env.SHIIOO_TOKEN
  if (token !== undefined && token !== '' && !/^[\x21-\x7e]{1,512}$/.test(token)) {
    throw new ConfigError([
      `SHIIOO_TOKEN: must be an API token of printable characters without spaces (it has ${token.length} characters); make one with \`shiioo token create\``,
    ])
  }
  if (url === undefined) return null
  return { url: url.replace(/\/+$/, ''), token: token === undefined || token === '' ? null : token }
}
