import { z } from 'zod'

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

const dataDir = z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' })

const level = z.enum(LOG_LEVELS, {
  error: (issue) => `must be one of ${LOG_LEVELS.join(', ')} (got ${show(issue.input)})`,
})

const table = { error: 'must be a table' }

const count = (max: number) => {
  const error = (issue: { input?: unknown }) => `must be an integer 1-${max} (got ${show(issue.input)})`
  return z.number({ error }).int({ error }).min(1, { error }).max(max, { error })
}

/**
 * The settings every source may provide, in the shape of `shiioo.toml`. Each source is parsed on
 * its own against this schema, so an error names the source that holds the bad value.
 */
export const settingsSchema = z
  .object(
    {
      server: z.object({ host: host.optional(), port: port.optional() }, table).strict().optional(),
      storage: z.object({ data_dir: dataDir.optional() }, table).strict().optional(),
      log: z.object({ level: level.optional() }, table).strict().optional(),
      engine: z
        .object(
          {
            max_concurrency: count(4096).optional(),
            max_parallel_per_run: count(256).optional(),
            poll_ms: count(60_000).optional(),
          },
          table,
        )
        .strict()
        .optional(),
    },
    table,
  )
  .strict()

export type Settings = z.infer<typeof settingsSchema>

export const DEFAULT_SETTINGS = {
  server: { host: '127.0.0.1', port: 8080 },
  storage: { data_dir: './data' },
  log: { level: 'info' },
  engine: { max_concurrency: 64, max_parallel_per_run: 16, poll_ms: 500 },
} as const satisfies Settings
