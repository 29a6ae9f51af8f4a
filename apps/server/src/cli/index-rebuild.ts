import type { Command } from 'commander'
import type { CommandContext } from './context.js'
import { grouped, plural } from './format.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withGlobalOptions } from './options.js'
import { createProgress } from './progress.js'
import { withSession } from './session.js'

interface RebuildOptions extends GlobalOptions {
  json?: boolean
}

export function registerIndex(program: Command, ctx: CommandContext): void {
  const index = program.command('index').description('manage the index, the queryable projection of the event streams')
  withGlobalOptions(
    index
      .command('rebuild')
      .description('delete the index and rebuild it from the event streams (stop the server first)')
      .option('--json', 'print the result as JSON on stdout'),
    QUIET,
  ).action(async (options: RebuildOptions) => {
    await withSession(options, { create: false, indexOnDemand: true }, async ({ services, caller, dataDirArg }) => {
      const progress = createProgress({ out: ctx.io.err, unit: 'streams', label: 'rebuilding index' })
      const result = await services.data.rebuildIndex(caller, {
        onProgress: (p) => progress.update(p.streams, p.totalStreams ?? undefined, `${p.events} events`),
      })
      progress.finish()
      if (result.failed.length > 0) ctx.setExitCode(1)
      if (options.json) {
        ctx.io.out.write(JSON.stringify(result) + '\n')
        return
      }
      const rate = result.seconds > 0 ? ` (${grouped(result.events / result.seconds)} events/s)` : ''
      ctx.io.out.write(
        `rebuilt index: ${plural(result.runs, 'run')}, ${plural(result.events, 'event')} from ${plural(result.streams, 'stream')}` +
          ` in ${result.seconds.toFixed(2)} s${rate}\n`,
      )
      for (const f of result.failed) {
        ctx.io.err.write(`not indexed: stream ${f.stream} (tenant ${f.tenant}): ${f.message}\n`)
      }
      if (result.failed.length > 0) {
        ctx.io.err.write(
          `${result.failed.length} damaged stream(s) left out of the index: run \`${ctx.shiioo} verify${dataDirArg}\`\n`,
        )
      }
    })
  })
}
