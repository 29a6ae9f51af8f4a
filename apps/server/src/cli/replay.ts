import type { Command } from 'commander'
import type { CommandContext } from './context.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withRemoteOptions } from './options.js'
import { withSession } from './session.js'
import { INTERRUPTED_EXIT_CODE, RUN_EXIT_CODES, RUN_EXIT_HELP, reportOutcome, watchRuns } from './watch.js'

interface ReplayOptions extends GlobalOptions {
  json?: boolean
}

interface ForkOptions extends GlobalOptions {
  from: string
  detach?: boolean
  json?: boolean
}

export function registerReplay(program: Command, ctx: CommandContext): void {
  withRemoteOptions(
    program
      .command('replay')
      .description(
        'replay a finished run against its recorded outputs, calling no agent or tool, and check that ' +
          'the current engine makes the same decisions; exit 1 when it does not',
      )
      .argument('<run-id>', 'the finished run')
      .option('--json', 'print the replay report as JSON'),
    QUIET,
  ).action(async (runId: string, options: ReplayOptions) => {
    await withSession(
      options,
      { create: false, indexOnDemand: true, readOnly: true, remote: true },
      async ({ services, caller }) => {
        const report = await services.runs.replay(caller, runId)
        if (!report.ok) ctx.setExitCode(1)
        if (options.json) {
          ctx.io.out.write(JSON.stringify(report) + '\n')
          return
        }
        if (report.ok) {
          ctx.io.out.write(
            `replay of run ${report.runId} matched: ${report.events} events, ${report.turns} scheduler turns, ` +
              `${report.calls} agent or tool calls; it ended ${report.replayedStatus} as recorded\n`,
          )
          return
        }
        ctx.io.out.write(
          `replay of run ${report.runId} did not match: recorded ${report.status}, replayed ${report.replayedStatus}, ` +
            `${report.mismatches.length} differences:\n`,
        )
        for (const m of report.mismatches) ctx.io.out.write(`  ${m}\n`)
      },
    )
  })

  withRemoteOptions(
    program
      .command('fork')
      .description(
        'start a new run from a run: the steps before --from keep their recorded outputs, the rest ' +
          'execute again; then show its progress until it ends',
      )
      .argument('<run-id>', 'the run to fork')
      .requiredOption('--from <step>', 'the first step to execute again')
      .option('--detach', 'print the new run id and exit; `shiioo resume` drives the run on')
      .option('--json', 'print the outcome (or, with --detach, the new run) as JSON on stdout')
      .addHelpText('after', `\n${RUN_EXIT_HELP}`),
    QUIET,
  ).action(async (runId: string, options: ForkOptions) => {
    await withSession(options, { create: false, remote: true }, async (session) => {
      const forked = await session.services.runs.fork(session.caller, runId, { fromStep: options.from })
      if (options.detach) {
        ctx.io.out.write(
          options.json
            ? JSON.stringify({
                runId: forked.runId,
                workflow: forked.workflow,
                forkOf: { runId, fromStep: options.from },
              }) + '\n'
            : `${forked.runId}\n`,
        )
        return
      }
      ctx.io.err.write(`run ${forked.runId} (fork of ${runId} from step ${options.from})\n`)
      const outcomes = await watchRuns(ctx, session, [{ runId: forked.runId, fromSeq: 1 }], { prefix: false })
      if (outcomes === null) return ctx.setExitCode(INTERRUPTED_EXIT_CODE)
      const outcome = outcomes[0]!
      if (options.json) ctx.io.out.write(JSON.stringify(outcome) + '\n')
      reportOutcome(ctx, outcome, session, !options.json)
      ctx.setExitCode(RUN_EXIT_CODES[outcome.status])
    })
  })
}
