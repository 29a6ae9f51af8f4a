import type { Command } from 'commander'
import { toShiiooError } from '@shiioo/core'
import { systemCaller } from '@shiioo/orchestrator'
import { createApp } from '../app.js'
import { openOrchestrator } from '../compose.js'
import { listen } from '../http/listen.js'
import { dataDirArg } from './command-line.js'
import type { CommandContext } from './context.js'
import type { GlobalOptions } from './options.js'
import { displayPath, loadCommandConfig, withGlobalOptions } from './options.js'
import { onInterrupt } from './shutdown.js'

interface ServeOptions extends GlobalOptions {
  host?: string
  port?: string
}

export function registerServe(program: Command, ctx: CommandContext): void {
  withGlobalOptions(
    program
      .command('serve')
      .description('start the HTTP server')
      .option('--host <host>', 'address to listen on (env SHIIOO_HOST; default 127.0.0.1)')
      .option('--port <port>', 'port to listen on, 0 picks a free one (env SHIIOO_PORT; default 8080)'),
  ).action(async (options: ServeOptions) => {
    const config = loadCommandConfig(options)
    const app = await openOrchestrator(config, { create: true })
    const { logger, orchestrator } = app
    try {
      const caught = await orchestrator.catchUp()
      if (caught) {
        const { failed, ...counts } = caught
        logger.info('index caught up with the event streams', counts)
        for (const f of failed)
          logger.warn(
            `stream left out of the index (run \`${ctx.shiioo} verify${dataDirArg(options.dataDir, config.dataDir)}\`)`,
            { ...f },
          )
      }
      const http = createApp({
        version: ctx.version,
        logger: logger.child({ component: 'http' }),
        startedAt: Date.now(),
      })
      const server = await listen(http, config.host, config.port)
      const interrupt = onInterrupt()
      ctx.io.err.write(`shiioo listening on ${server.url} (data dir ${displayPath(config.dataDir, ctx.cwd)})\n`)
      logger.info('server started', { url: server.url, version: ctx.version })
      // unfinished runs continue in the background while the server answers
      const resuming = orchestrator.runs
        .resumeAll(systemCaller('server'))
        .then((r) => {
          const paused = r.resumed.filter((x) => x.status === 'paused').length
          if (r.resumed.length + r.failed.length > 0) {
            logger.info('resumed unfinished runs', {
              running: r.resumed.length - paused,
              paused,
              failed: r.failed.length,
            })
          }
        })
        .catch((error: unknown) => logger.error('could not resume runs', { error: toShiiooError(error).message }))
      // runs another process left unfinished (a `shiioo run` that was stopped) are taken over too
      let scanning: Promise<void> = resuming
      const scan = setInterval(() => {
        scanning = scanning
          .then(async () => {
            await orchestrator.catchUp()
            const r = await orchestrator.runs.resumeAll(systemCaller('server'))
            logger.debug('scanned for unfinished runs', { driven: r.resumed.length, elsewhere: r.elsewhere.length })
          })
          .catch((error: unknown) => logger.error('could not scan for runs', { error: toShiiooError(error).message }))
      }, config.scanMs)
      scan.unref()
      const signal = await interrupt.signalled
      logger.info('shutting down', { signal })
      clearInterval(scan)
      await server.close()
      await scanning
    } finally {
      // stops driving runs (they resume on the next start), finishes projecting, closes the stores
      await app.close()
    }
    logger.info('stopped')
  })
}
