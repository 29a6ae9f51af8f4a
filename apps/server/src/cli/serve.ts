import type { Command } from 'commander'
import { createApp } from '../app.js'
import { openIndexedStorage } from '../compose.js'
import { listen } from '../http/listen.js'
import type { CommandContext } from './context.js'
import type { GlobalOptions } from './options.js'
import { displayPath, loadCommandConfig, withGlobalOptions } from './options.js'

interface ServeOptions extends GlobalOptions {
  host?: string
  port?: string
}

/** Resolves on the first SIGINT or SIGTERM; a second one gets Node's default handling (exit now). */
function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
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
    const storage = await openIndexedStorage(config, { create: true })
    const { logger } = storage
    try {
      const caught = await storage.projector.catchUp()
      const { failed, ...counts } = caught
      logger.info('index caught up with the event streams', counts)
      for (const f of failed) logger.warn('stream left out of the index (run `shiioo verify`)', { ...f })
      const detach = storage.projector.attach()
      try {
        const app = createApp({
          version: ctx.version,
          logger: logger.child({ component: 'http' }),
          startedAt: Date.now(),
        })
        const server = await listen(app, config.host, config.port)
        const signalled = shutdownSignal()
        ctx.io.err.write(`shiioo listening on ${server.url} (data dir ${displayPath(config.dataDir, ctx.cwd)})\n`)
        logger.info('server started', { url: server.url, version: ctx.version })
        const signal = await signalled
        logger.info('shutting down', { signal })
        await server.close()
      } finally {
        detach()
        await storage.projector.idle() // finish projecting what was appended before closing the index
      }
    } finally {
      await storage.close()
    }
    logger.info('stopped')
  })
}
