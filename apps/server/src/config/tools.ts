import { resolve } from 'node:path'
import { z } from 'zod'

const table = { error: 'must be a table' }
const hostList = z
  .array(z.string().min(1).max(253), { error: 'must be a list of host names' })
  .max(1000, { error: 'must list at most 1000 hosts' })
const bytes = (max: number) =>
  z
    .number({ error: 'must be a number of bytes' })
    .int({ error: 'must be a whole number of bytes' })
    .min(1, { error: 'must be at least 1 byte' })
    .max(max, { error: `must be at most ${max} bytes` })
const millis = z
  .number({ error: 'must be a number of milliseconds' })
  .int({ error: 'must be a whole number of milliseconds' })
  .min(100, { error: 'must be at least 100 ms' })
  .max(600_000, { error: 'must be at most 600000 ms' })
/** The name of an environment variable (its value is read at start, never written in the file). */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { error: 'must be an environment variable name' })

/** `[tools]`: the built-in tools' limits (docs/tools.md). */
export const toolsSchema = z
  .object(
    {
      http: z
        .object(
          {
            enabled: z.boolean({ error: 'must be true or false' }).optional(),
            allow_hosts: hostList.optional(),
            allow_private: hostList.optional(),
            max_bytes: bytes(64 * 1024 * 1024).optional(),
            timeout_ms: millis.optional(),
            max_redirects: z.number().int().min(0).max(20).optional(),
          },
          table,
        )
        .strict()
        .optional(),
      files: z
        .object(
          {
            roots: z
              .array(
                z
                  .object({
                    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1-64 letters, digits, _ or -' }),
                    path: z.string().min(1),
                  })
                  .strict(),
                { error: 'must be a list of { name, path } tables' },
              )
              .max(100)
              .optional(),
            max_bytes: bytes(64 * 1024 * 1024).optional(),
          },
          table,
        )
        .strict()
        .optional(),
    },
    table,
  )
  .strict()

/** `[[mcp.servers]]`: external MCP servers whose tools join the catalog under a prefix. */
const mcpServerSchema = z
  .object(
    {
      prefix: z
        .string()
        .regex(/^[a-z][a-z0-9_-]{0,31}$/, { error: 'must be 1-32 lower-case letters, digits, _ or -, from a letter' }),
      command: z.string().min(1).max(1000).optional(),
      args: z.array(z.string().max(10_000)).max(100).optional(),
      /** Names of environment variables passed to the command (nothing else of the environment is). */
      env: z.array(envName).max(100).optional(),
      cwd: z.string().min(1).optional(),
      url: z.url({ error: 'must be an http(s) URL' }).optional(),
      /** Header name → the environment variable holding its value (a secret stays out of the file). */
      headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,100}$/), envName).optional(),
      timeout_ms: millis.optional(),
    },
    table,
  )
  .strict()

export const mcpSchema = z
  .object(
    { servers: z.array(mcpServerSchema, { error: 'must be a list of [[mcp.servers]] tables' }).optional() },
    table,
  )
  .strict()

export type ToolsSettings = z.infer<typeof toolsSchema>
export type McpSettings = z.infer<typeof mcpSchema>

/** The built-in tools' settings as @shiioo/mcp's builtinToolSource takes them. */
export interface ToolsConfig {
  http:
    | false
    | { allowHosts?: string[]; allowPrivate?: string[]; maxBytes?: number; timeoutMs?: number; maxRedirects?: number }
  files: false | { roots: { name: string; path: string }[]; maxBytes?: number }
  mcpServers: McpServerConfig[]
}

export interface McpServerConfig {
  prefix: string
  transport:
    | { kind: 'stdio'; command: string; args?: string[]; env?: Record<string, string>; cwd?: string }
    | { kind: 'http'; url: string; headers?: Record<string, string> }
  timeoutMs?: number
}

/**
 * The tools' configuration, with roots and working directories resolved against the config file's
 * directory and secrets read from the environment variables named for them. Problems are pushed,
 * each naming its setting; a missing variable only when `requireSecrets` (a command that calls no
 * tool does not need them).
 */
export function toolsConfigOf(
  tools: ToolsSettings | null,
  mcp: McpSettings | null,
  env: Readonly<Record<string, string | undefined>>,
  baseDir: string,
  requireSecrets: boolean,
  problems: string[],
): ToolsConfig {
  const h = tools?.http
  const http: ToolsConfig['http'] =
    h?.enabled === false
      ? false
      : {
          ...(h?.allow_hosts ? { allowHosts: h.allow_hosts } : {}),
          ...(h?.allow_private ? { allowPrivate: h.allow_private } : {}),
          ...(h?.max_bytes === undefined ? {} : { maxBytes: h.max_bytes }),
          ...(h?.timeout_ms === undefined ? {} : { timeoutMs: h.timeout_ms }),
          ...(h?.max_redirects === undefined ? {} : { maxRedirects: h.max_redirects }),
        }
  const f = tools?.files
  const roots = (f?.roots ?? []).map((r) => ({ name: r.name, path: resolve(baseDir, r.path) }))
  const names = new Set<string>()
  for (const r of roots) {
    if (names.has(r.name)) problems.push(`tools.files.roots: the root name "${r.name}" is used twice`)
    names.add(r.name)
  }
  const files: ToolsConfig['files'] =
    roots.length === 0 ? false : { roots, ...(f?.max_bytes === undefined ? {} : { maxBytes: f.max_bytes }) }
  const secret = (where: string, name: string): string => {
    const value = env[name]
    if ((value === undefined || value === '') && requireSecrets) {
      problems.push(`${where}: environment variable ${name} is not set`)
    }
    return value ?? ''
  }
  const prefixes = new Set<string>()
  const mcpServers = (mcp?.servers ?? []).map((s, i): McpServerConfig => {
    const where = `mcp.servers[${i}] (${s.prefix})`
    if (prefixes.has(s.prefix)) problems.push(`${where}: the prefix "${s.prefix}" is used twice`)
    prefixes.add(s.prefix)
    if ((s.command === undefined) === (s.url === undefined)) {
      problems.push(`${where}: give either command (a local server over stdio) or url (Streamable HTTP), not both`)
    }
    const timeout = s.timeout_ms === undefined ? {} : { timeoutMs: s.timeout_ms }
    if (s.url !== undefined) {
      const headers = Object.fromEntries(
        Object.entries(s.headers ?? {}).map(([k, v]) => [k, secret(`${where}.headers.${k}`, v)]),
      )
      return { prefix: s.prefix, transport: { kind: 'http', url: s.url, headers }, ...timeout }
    }
    const passed = Object.fromEntries((s.env ?? []).map((n) => [n, secret(`${where}.env`, n)]))
    return {
      prefix: s.prefix,
      transport: {
        kind: 'stdio',
        command: s.command ?? '',
        ...(s.args ? { args: s.args } : {}),
        env: passed,
        cwd: resolve(baseDir, s.cwd ?? '.'),
      },
      ...timeout,
    }
  })
  return { http, files, mcpServers }
}
