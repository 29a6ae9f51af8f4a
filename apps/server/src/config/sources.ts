import { readFileSync } from 'node:fs'
import { relative, resolve, isAbsolute } from 'node:path'
import { parse, TomlError } from 'smol-toml'
import type { z } from 'zod'
import { ConfigError } from './error.js'
import type { Settings } from './schema.js'
import { settingsSchema } from './schema.js'

/** Names a setting inside one source, e.g. `shiioo.toml: server.port` or `SHIIOO_PORT`. */
type Where = (path: readonly PropertyKey[]) => string

export const ENV_SETTINGS: Readonly<Record<string, readonly [keyof Settings, string]>> = {
  SHIIOO_HOST: ['server', 'host'],
  SHIIOO_PORT: ['server', 'port'],
  SHIIOO_DATA_DIR: ['storage', 'data_dir'],
  SHIIOO_STORAGE_LEASE_TTL_MS: ['storage', 'lease_ttl_ms'],
  SHIIOO_LOG_LEVEL: ['log', 'level'],
  SHIIOO_ENGINE_MAX_CONCURRENCY: ['engine', 'max_concurrency'],
  SHIIOO_ENGINE_MAX_PARALLEL_PER_RUN: ['engine', 'max_parallel_per_run'],
  SHIIOO_ENGINE_SCAN_MS: ['engine', 'scan_ms'],
  SHIIOO_SERVER: ['client', 'server'],
}

/**
 * Variables that hold secrets: read from the environment only (never from a file or a flag, which
 * other users can see in `ps`), checked, never echoed. `load.ts` reads them.
 */
export const ENV_SECRETS: readonly string[] = [
  'SHIIOO_ADMIN_TOKEN',
  // the token the CLI and clients send to a server (what a first start tells people to export)
  'SHIIOO_TOKEN',
]

export const FLAG_SETTINGS: Readonly<Record<string, readonly [keyof Settings, string]>> = {
  '--host': ['server', 'host'],
  '--port': ['server', 'port'],
  '--data-dir': ['storage', 'data_dir'],
  '--log-level': ['log', 'level'],
  '--server': ['client', 'server'],
}

export interface ConfigFlags {
  config?: string | undefined
  dataDir?: string | undefined
  host?: string | undefined
  port?: string | number | undefined
  logLevel?: string | undefined
  server?: string | undefined
}

/** Settings that were removed, and why: an old config that still sets one is told what happened. */
const REMOVED: Readonly<Record<string, string>> = {
  'engine.poll_ms': 'runs no longer poll: the event feed wakes them (ADR 0008); delete the setting',
  SHIIOO_ENGINE_POLL_MS: 'runs no longer poll: the event feed wakes them (ADR 0008); unset it',
}

function describeIssue(issue: z.core.$ZodIssue, where: Where): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const removed = REMOVED[[...issue.path, key].join('.')]
      return `${where([...issue.path, key])} ${removed ? `was removed: ${removed}` : 'is not a known setting'}`
    })
  }
  return [`${where(issue.path)}: ${issue.message}`]
}

function validate(raw: unknown, where: Where): Settings {
  const result = settingsSchema.safeParse(raw)
  if (result.success) return result.data
  throw new ConfigError(result.error.issues.flatMap((issue) => describeIssue(issue, where)))
}

/** Numbers arrive as text from the environment and flags; digits become a number, the rest fails validation. */
function coerce(section: string, key: string, value: string | number): string | number {
  const numeric =
    (section === 'server' && key === 'port') ||
    (section === 'storage' && key === 'lease_ttl_ms') ||
    section === 'engine'
  return numeric && typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value
}

function fromPairs(
  pairs: Array<[readonly [string, string], string | number]>,
): Record<string, Record<string, unknown>> {
  const raw: Record<string, Record<string, unknown>> = {}
  for (const [[section, key], value] of pairs) (raw[section] ??= {})[key] = coerce(section, key, value)
  return raw
}

function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file)
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file
}

export interface FileSource {
  file: string | null
  settings: Settings
}

/** `shiioo.toml` in `cwd`, or the `--config` file: the default one may be missing, a named one may not. */
export function readFileSettings(cwd: string, configFlag: string | undefined): FileSource {
  const file = resolve(cwd, configFlag ?? 'shiioo.toml')
  const label = displayPath(file, cwd)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && configFlag === undefined) return { file: null, settings: {} }
    const reason = code === 'ENOENT' ? 'file not found' : (err as Error).message
    throw new ConfigError([`${configFlag === undefined ? label : '--config ' + label}: ${reason}`])
  }
  let raw: unknown
  try {
    raw = parse(text)
  } catch (err) {
    if (!(err instanceof TomlError)) throw err
    const reason = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '')
    throw new ConfigError([`${label}:${err.line}:${err.column}: malformed TOML: ${reason}`])
  }
  return { file, settings: validate(raw, (path) => `${label}: ${path.join('.')}`) }
}

/** `SHIIOO_*` variables; one that is not a known setting is an error, not ignored. */
export function readEnvSettings(env: Readonly<Record<string, string | undefined>>): Settings {
  const unknown = Object.keys(env)
    .filter((name) => name.startsWith('SHIIOO_') && !(name in ENV_SETTINGS) && !ENV_SECRETS.includes(name))
    .sort()
  if (unknown.length > 0) {
    const known = [...Object.keys(ENV_SETTINGS), ...ENV_SECRETS].join(', ')
    throw new ConfigError(
      unknown.map((name) =>
        REMOVED[name] ? `${name} was removed: ${REMOVED[name]}` : `${name} is not a known setting (known: ${known})`,
      ),
    )
  }
  const pairs = Object.entries(ENV_SETTINGS).flatMap(([name, target]): Array<[typeof target, string]> => {
    const value = env[name]
    return value === undefined ? [] : [[target, value]]
  })
  return validate(fromPairs(pairs), (path) => nameOf(ENV_SETTINGS, path))
}

export function readFlagSettings(flags: ConfigFlags): Settings {
  const values: Record<string, string | number | undefined> = {
    '--host': flags.host,
    '--port': flags.port,
    '--data-dir': flags.dataDir,
    '--log-level': flags.logLevel,
    '--server': flags.server,
  }
  const pairs = Object.entries(FLAG_SETTINGS).flatMap(([name, target]): Array<[typeof target, string | number]> => {
    const value = values[name]
    return value === undefined ? [] : [[target, value]]
  })
  return validate(fromPairs(pairs), (path) => nameOf(FLAG_SETTINGS, path))
}

function nameOf(table: Readonly<Record<string, readonly [string, string]>>, path: readonly PropertyKey[]): string {
  const found = Object.entries(table).find(([, [section, key]]) => section === path[0] && key === path[1])
  return found ? found[0] : path.join('.')
}
