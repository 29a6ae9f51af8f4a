import { rm } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import type { Command } from 'commander'
import { assertDataDirIdle, indexFile, openIndexedStorage, openRebuildFolder } from '../compose.js'
import { dataDirArg } from './command-line.js'
import type { CommandContext } from './context.js'
import { grouped, plural } from './format.js'
import type { GlobalOptions } from './options.js'
import { QUIET, loadCommandConfig, withGlobalOptions } from './options.js'
import { createProgress } from './progress.js'

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
    const config = loadCommandConfig(options, QUIET)
    const file = indexFile(config.dataDir)
    // the index is deleted below, and the worker reads stream files whole: no one may be writing
    assertDataDirIdle(config, `${ctx.shiioo} index rebuild${dataDirArg(options.dataDir, config.dataDir)}`)
    // the streams are the truth: the index file and SQLite's side files are disposable
    await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => rm(file + suffix, { force: true })))
    const storage = await openIndexedStorage(config, { create: false })
    const folder = openRebuildFolder(config)
    try {
      const progress = createProgress({ out: ctx.io.err, unit: 'streams', label: 'rebuilding index' })
      const started = performance.now()
      const result = await storage.projector.rebuild({
        folder,
        onProgress: (p) => progress.update(p.done, p.counting ? undefined : p.total, `${p.events} events`),
      })
      progress.finish()
      const seconds = (performance.now() - started) / 1000
      if (result.failed.length > 0) ctx.setExitCode(1)
      if (options.json) {
        ctx.io.out.write(JSON.stringify({ ...result, seconds: Number(seconds.toFixed(3)) }) + '\n')
      } else {
        const rate = seconds > 0 ? ` (${grouped(result.events / seconds)} events/s)` : ''
        ctx.io.out.write(
          `rebuilt index: ${plural(result.runs, 'run')}, ${plural(result.events, 'event')} from ${plural(result.streams, 'stream')}` +
            ` in ${seconds.toFixed(2)} s${rate}\n`,
        )
        for (const f of result.failed) {
          ctx.io.err.write(`not indexed: stream ${f.stream} (tenant ${f.tenant}): ${f.message}\n`)
        }
        if (result.failed.length > 0) {
          ctx.io.err.write(
            `${result.failed.length} damaged stream(s) left out of the index: run \`${ctx.shiioo} verify${dataDirArg(options.dataDir, config.dataDir)}\`\n`,
          )
        }
      }
    } finally {
      await folder.close()
      await storage.close()
    }
  })
}
