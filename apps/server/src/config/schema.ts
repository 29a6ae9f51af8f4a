import { z } from 'zod'
import { mcpSchema, toolsSchema } from './tools.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value)
}

const portError = (issue: { input?: unknown }) =>
  `must be an integer 0-65535, 0 picks a free port (got ${show(issue.input)})`

const port = z
  .number({ error: portError })
  .int({ error: portError })
  .min(0, { error: portError })
  .max(65535, { error: portError })

const host = z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9.:[\]-]{1,253}$/, {
  error: (issue) => `must be a hostname or IP address (got ${show(issue.input)})`,
})

/** A browser origin: scheme, host and optional port, nothing after (what a browser sends in `Origin`). */
const origin = z.string({ error: 'must be a string' }).regex(/^https?:\/\/[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/, {
  error: (issue) =>
    `must be an origin such as "https://ops.example.com" (no path, no trailing slash; got ${show(issue.input)})`,
})

const dataDir = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' })

/** A Shiioo server's base URL (http or https, no query or fragment), as the CLI's `--server` takes it. */
const serverUrl = z.string({ error: 'must be a string' }).regex(/^https?:\/\/[^\s?#]{1,2000}$/, {
  error: (issue) =>
    `must be a server's URL such as "http://127.0.0.1:8080" (http or https, no query; got ${show(issue.input)})`,
})

const level = z.enum(LOG_LEVELS, {
  error: (issue) => `must be one of ${LOG_LEVELS.join(', ')} (got ${show(issue.input)})`,
})

const table = { error: 'must be a table' }

const count = (max: number) => {
  const error = (issue: { input?: unknown }) => `must be an integer 1-${max} (got ${show(issue.input)})`
  return z.number({ error }).int({ error }).min(1, { error }).max(max, { error })
}

const name = (what: string) =>
  z.string({ error: 'must be a string' }).regex(/^[a-z][a-z0-9_.-]{0,63}$/, {
    error: (issue) => `must be a ${what}: lowercase letters, digits, _, . or - (got ${show(issue.input)})`,
  })
const nonNegative = z.number({ error: 'must be a number' }).nonnegative({ error: 'must not be negative' })

const sourceSchema = z
  .object(
    {
      id: name('source id'),
      provider: z.enum(['openai', 'anthropic', 'simulated'], {
        error: (issue) => `must be openai, anthropic or simulated (got ${show(issue.input)})`,
      }),
      base_url: z.url({ error: 'must be an http(s) URL' }).optional(),
      /** The environment variable that holds the key: the key itself never goes in a file. */
      api_key_env: z
        .string({ error: 'must be a string' })
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { error: 'must be an environment variable name' })
        .optional(),
      azure_api_version: z.string({ error: 'must be a string' }).optional(),
      script: z.string({ error: 'must be a string' }).min(1).optional(),
      models: z
        .array(z.string().min(1).max(200), { error: 'must be a list of model names' })
        .min(1, { error: 'must name at least one model' }),
      requests_per_minute: count(10_000_000).optional(),
      tokens_per_minute: count(1_000_000_000).optional(),
      tokens_per_day: count(1_000_000_000_000).optional(),
      max_concurrent: count(100_000).optional(),
      price_input_per_1m: nonNegative.optional(),
      price_output_per_1m: nonNegative.optional(),
      priority: z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).optional(),
      tenants: z.array(z.string()).optional(),
      roles: z.array(z.string()).optional(),
      enabled: z.boolean({ error: 'must be true or false' }).optional(),
    },
    table,
  )
  .strict()

const roleSchema = z
  .object(
    {
      system_prompt: z.string({ error: 'must be a string' }).min(1).max(20_000),
      model: z.string({ error: 'must be a string' }).min(1).max(200),
      max_turns: count(1000).optional(),
      max_tokens: count(1_000_000).optional(),
      /**
       * The tools this role's agents may use (names, or `prefix.*`); a step that lists another is
       * refused. Without it, any tool of the catalog a workflow may call.
       */
      tools: z
        .array(z.string().regex(/^[A-Za-z0-9_.*-]{1,128}$/, { error: 'must be a tool name or a prefix.*' }), {
          error: 'must be a list of tool names',
        })
        .max(1000)
        .optional(),
    },
    table,
  )
  .strict()

/**
 * The settings every source may provide, in the shape of `shiioo.toml`. Each source is parsed on
 * its own against this schema, so an error names the source that holds the bad value.
 */
export const settingsSchema = z
  .object(
    {
      server: z.object({ host: host.optional(), port: port.optional() }, table).strict().optional(),
      storage: z
        .object(
          {
            data_dir: dataDir.optional(),
            lease_ttl_ms: z
              .number({ error: 'must be a number of milliseconds' })
              .int({ error: 'must be a whole number of milliseconds' })
              .min(1000, { error: (issue) => `must be at least 1000 ms (got ${show(issue.input)})` })
              .max(600_000, { error: (issue) => `must be at most 600000 ms (got ${show(issue.input)})` })
              .optional(),
          },
          table,
        )
        .strict()
        .optional(),
      log: z.object({ level: level.optional() }, table).strict().optional(),
      /** Where CLI commands send their calls: a running server instead of the data dir. */
      client: z.object({ server: serverUrl.optional() }, table).strict().optional(),
      http: z
        .object(
          {
            /** Browser origins allowed to call the API (CORS); none by default. */
            cors_origins: z
              .array(origin, { error: 'must be a list of origins such as "https://ops.example.com"' })
              .max(100, { error: 'must list at most 100 origins' })
              .optional(),
            /** The largest request body accepted; a larger one is refused with 413. */
            max_body_bytes: z
              .number({ error: 'must be a number of bytes' })
              .int({ error: 'must be a whole number of bytes' })
              .min(1024, { error: (issue) => `must be at least 1024 bytes (got ${show(issue.input)})` })
              .max(100 * 1024 * 1024, {
                error: (issue) => `must be at most 104857600 bytes (got ${show(issue.input)})`,
              })
              .optional(),
          },
          table,
        )
        .strict()
        .optional(),
      engine: z
        .object(
          {
            max_concurrency: count(4096).optional(),
            max_parallel_per_run: count(256).optional(),
            scan_ms: count(3_600_000).optional(),
          },
          table,
        )
        .strict()
        .optional(),
      capacity: z
        .object(
          {
            default_model: z.string().min(1).max(200).optional(),
            /** Keep the sources' rate windows in the data dir, shared by every process on it (default true). */
            share_limits: z.boolean({ error: 'must be true or false' }).optional(),
            /** How long a model call may wait for capacity; the wait does not count against a step's timeout. */
            max_wait_ms: z
              .number({ error: 'must be a number of milliseconds' })
              .int({ error: 'must be a whole number of milliseconds' })
              .min(1000, { error: (issue) => `must be at least 1000 ms (got ${show(issue.input)})` })
              .max(86_400_000, { error: (issue) => `must be at most 86400000 ms (got ${show(issue.input)})` })
              .optional(),
            sources: z.array(sourceSchema, { error: 'must be a list of [[capacity.sources]] tables' }).optional(),
          },
          table,
        )
        .strict()
        .optional(),
      roles: z.record(name('role name'), roleSchema, table).optional(),
      /** The built-in tools' limits: `[tools.http]`, `[tools.files]`. */
      tools: toolsSchema.optional(),
      /** External MCP servers whose tools agents and MCP clients use: `[[mcp.servers]]`. */
      mcp: mcpSchema.optional(),
    },
    table,
  )
  .strict()

export type Settings = z.infer<typeof settingsSchema>

export const DEFAULT_SETTINGS = {
  server: { host: '127.0.0.1', port: 8080 },
  storage: { data_dir: './data', lease_ttl_ms: 15_000 },
  log: { level: 'info' },
  http: { cors_origins: [], max_body_bytes: 1024 * 1024 },
  engine: { max_concurrency: 64, max_parallel_per_run: 16, scan_ms: 30_000 },
} as const satisfies Settings
