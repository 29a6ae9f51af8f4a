import type { Command } from 'commander'
import type { CommandContext } from './context.js'
import { plural } from './format.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withGlobalOptions } from './options.js'
import { waitingUnits } from './run-details.js'
import { withSession } from './session.js'
import type { Watched } from './watch.js'
import { INTERRUPTED_EXIT_CODE, reportOutcome, watchRuns } from './watch.js'

interface ResumeOptions extends GlobalOptions {
  json?: boolean
}

export function registerResume(program: Command, ctx: CommandContext): void {
  withGlobalOptions(
    program
      .command('resume')
      .description(
        'resume every unfinished run of the data dir (after a crash, a Ctrl-C or `run --detach`) and show ' +
          'their progress until they end; paused runs are listed, not waited for',
      )
      .option(
        '--json',
        'print the outcomes as JSON: { resumed: [...], paused: [...], elsewhere: [...], failed: [...] }',
      )
      .addHelpText(
        'after',
        '\nExit code: 0 when every resumed run completed (or there was none), 1 otherwise, 130 when interrupted.',
      ),
    QUIET,
  ).action(async (options: ResumeOptions) => {
    await withSession(options, { create: false }, async (session) => {
      const { services, caller, dataDirArg } = session
      const result = await services.runs.resumeAll(caller)
      for (const f of result.failed) ctx.io.err.write(`cannot resume run ${f.runId}: ${f.message}\n`)
      for (const id of result.elsewhere) {
        ctx.io.err.write(`run ${id} is driven by another process (shiioo serve or shiioo run); left to it\n`)
      }
      const paused = result.resumed.filter((r) => r.status === 'paused').map((r) => r.runId)
      for (const id of paused) {
        ctx.io.err.write(`run ${id} is paused; resume it with: ${ctx.shiioo} runs resume ${id} --wait${dataDirArg}\n`)
      }
      const running = result.resumed.filter((r) => r.status !== 'paused')
      const watched: Watched[] = []
      for (const r of running) {
        const run = await services.runs.get(caller, r.runId)
        const decided = run.decisions
          .filter((d) => d.seq <= r.lastSeq)
          .map((d) => (d.item === null ? d.stepId : `${d.stepId}[${d.item}]`))
        watched.push({ runId: r.runId, fromSeq: r.lastSeq + 1, startedAt: run.startedAt, decided })
        const prefix = `[…${r.runId.slice(-6)}] `
        ctx.io.err.write(`${prefix}resuming run ${r.runId} (workflow ${run.workflow.name})\n`)
        for (const w of waitingUnits(run, ctx.shiioo, dataDirArg)) ctx.io.err.write(`${prefix}${' '.repeat(10)}${w}\n`)
      }
      if (watched.length === 0 && !options.json) {
        const none = paused.length + result.failed.length + result.elsewhere.length === 0
        ctx.io.err.write(none ? 'no unfinished runs\n' : 'no run to wait for\n')
      }
      const outcomes = watched.length === 0 ? [] : await watchRuns(ctx, session, watched, { prefix: true })
      if (outcomes === null) return ctx.setExitCode(INTERRUPTED_EXIT_CODE)
      const completed = outcomes.filter((o) => o.status === 'completed').length
      if (completed < outcomes.length || result.failed.length > 0) ctx.setExitCode(1)
      if (options.json) {
        ctx.io.out.write(
          JSON.stringify({ resumed: outcomes, paused, elsewhere: result.elsewhere, failed: result.failed }) + '\n',
        )
        return
      }
      for (const o of outcomes) reportOutcome(ctx, o, session, false)
      if (outcomes.length > 0) {
        ctx.io.err.write(`${completed} of ${plural(outcomes.length, 'resumed run')} completed\n`)
      }
    })
  })
}
