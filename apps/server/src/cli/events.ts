import type { Command } from 'commander'
import { DEFAULT_TENANT, ShiiooError, parseRunId, parseTenantId, serializeEvent } from '@shiioo/core'
import { openStorage } from '../compose.js'
import type { CommandContext } from './context.js'
import { formatEventTable } from './format.js'
import type { GlobalOptions } from './options.js'
import { QUIET, loadCommandConfig, withGlobalOptions } from './options.js'

interface EventsOptions extends GlobalOptions {
  tenant: string
  json?: boolean
}

export function registerEvents(program: Command, ctx: CommandContext): void {
  withGlobalOptions(
    program
      .command('events')
      .description("print a run's events in order")
      .argument('<run-id>', 'the run, e.g. run_01J9Z3K4X5Y6Z7A8B9C0D1E2F3')
      .option('--tenant <tenant>', 'the tenant that owns the run', DEFAULT_TENANT)
      .option('--json', 'print the events as JSON lines, one per event, as stored'),
    QUIET,
  ).action(async (runIdArg: string, options: EventsOptions) => {
    const runId = parseRunId(runIdArg, '<run-id>')
    const tenant = parseTenantId(options.tenant, '--tenant')
    const storage = await openStorage(loadCommandConfig(options, QUIET), { create: false })
    try {
      const events = await storage.log.read({ tenant, stream: runId })
      if (events.length === 0) throw new ShiiooError('NOT_FOUND', `run ${runId} not found (tenant ${tenant})`)
      ctx.io.out.write(options.json ? events.map((e) => serializeEvent(e) + '\n').join('') : formatEventTable(events))
    } finally {
      await storage.close()
    }
  })
}
