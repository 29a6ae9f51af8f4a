import type { Command } from 'commander'
import { DEFAULT_TENANT, parseTenantId } from '@shiioo/core'
import type { CommandContext } from './context.js'
import { formatEventTable } from './format.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withRemoteOptions } from './options.js'
import { withSession } from './session.js'

interface EventsOptions extends GlobalOptions {
  tenant: string
  json?: boolean
}

export function registerEvents(program: Command, ctx: CommandContext): void {
  withRemoteOptions(
    program
      .command('events')
      .description("print a run's events in order")
      .argument('<run-id>', 'the run, e.g. run_01J9Z3K4X5Y6Z7A8B9C0D1E2F3')
      .option('--tenant <tenant>', 'the tenant that owns the run (the one you act in)', DEFAULT_TENANT)
      .option('--json', 'print the events as JSON lines, one per event, as stored'),
    QUIET,
  ).action(async (runId: string, options: EventsOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    await withSession(
      options,
      { create: false, indexOnDemand: true, readOnly: true, tenant, remote: true },
      async ({ services, caller }) => {
        const events = await services.runs.events(caller, runId)
        ctx.io.out.write(options.json ? events.map((e) => JSON.stringify(e) + '\n').join('') : formatEventTable(events))
      },
    )
  })
}
