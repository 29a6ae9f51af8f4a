import type { Command } from 'commander'
import type { Json } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import type { CommandContext } from './context.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withRemoteOptions } from './options.js'
import { wholeNumber } from './runs.js'
import { withSession } from './session.js'

interface DecideOptions extends GlobalOptions {
  comment?: string
  item?: string
  json?: boolean
}

interface SignalOptions extends GlobalOptions {
  data?: string
  json?: boolean
}

const DECISIONS = ['approve', 'reject'] as const

function continuation(shiioo: string, dataDirArg: string, server: string | null): string {
  if (server !== null) return `the server at ${server} drives the run on`
  return `the run continues in the process driving it (shiioo run, shiioo serve), or with \`${shiioo} resume${dataDirArg}\``
}

export function registerSignals(program: Command, ctx: CommandContext): void {
  withRemoteOptions(
    program
      .command('decide')
      .description('approve or reject an approval step of a run (it may be decided before the step waits)')
      .argument('<run-id>', 'the run')
      .argument('<step>', 'the approval step id')
      .argument('<decision>', 'approve or reject')
      .option('--comment <text>', 'why, recorded with the decision')
      .option('--item <n>', 'the item of a foreach approval step, from 0')
      .option('--json', 'print { runId, stepId, item, decision, status } as JSON'),
    QUIET,
  ).action(async (runId: string, stepId: string, decision: string, options: DecideOptions) => {
    if (!(DECISIONS as readonly string[]).includes(decision)) {
      throw new ShiiooError('INVALID_INPUT', `<decision> must be approve or reject, not "${decision}"`)
    }
    const item = options.item === undefined ? undefined : wholeNumber(options.item, '--item', 0)
    await withSession(options, { create: false, remote: true }, async ({ services, caller, dataDirArg, server }) => {
      const run = await services.runs.decide(caller, runId, {
        stepId,
        decision: decision as (typeof DECISIONS)[number],
        ...(options.comment === undefined ? {} : { comment: options.comment }),
        ...(item === undefined ? {} : { item }),
      })
      if (options.json) {
        ctx.io.out.write(
          JSON.stringify({ runId: run.runId, stepId, item: item ?? null, decision, status: run.status }) + '\n',
        )
        return
      }
      const what = item === undefined ? `step ${stepId}` : `item ${item} of step ${stepId}`
      ctx.io.out.write(`${decision === 'approve' ? 'approved' : 'rejected'} ${what} of run ${run.runId}\n`)
      ctx.io.err.write(`${continuation(ctx.shiioo, dataDirArg, server)}\n`)
    })
  })

  withRemoteOptions(
    program
      .command('signal')
      .description('send an external event to a run, for its steps that wait for that event')
      .argument('<run-id>', 'the run')
      .argument('<event-name>', 'the event name, e.g. deploy.finished')
      .option('--data <json>', "the event's payload, as JSON")
      .option('--json', 'print { runId, event, status } as JSON'),
    QUIET,
  ).action(async (runId: string, name: string, options: SignalOptions) => {
    let payload: Json | undefined
    if (options.data !== undefined) {
      try {
        payload = JSON.parse(options.data) as Json
      } catch (error) {
        throw new ShiiooError('INVALID_INPUT', `--data is not JSON: ${(error as Error).message}`)
      }
    }
    await withSession(options, { create: false, remote: true }, async ({ services, caller, dataDirArg, server }) => {
      const run = await services.runs.signal(caller, runId, {
        name,
        ...(payload === undefined ? {} : { payload }),
      })
      if (options.json) {
        ctx.io.out.write(JSON.stringify({ runId: run.runId, event: name, status: run.status }) + '\n')
        return
      }
      ctx.io.out.write(`sent event ${name} to run ${run.runId}\n`)
      ctx.io.err.write(`${continuation(ctx.shiioo, dataDirArg, server)}\n`)
    })
  })
}
