import type { Command } from 'commander'
import { systemCaller } from '@shiioo/orchestrator'
import { createApp } from '../app.js'
import { openOrchestrator } from '../compose.js'
import { createGraphQLServer, orchestratorAuthenticate } from '../graphql/graphql-server.js'
import { listen } from '../http/listen.js'
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
      const graphql = createGraphQLServer({
        services: orchestrator,
        authenticate: orchestratorAuthenticate(orchestrator),
        logger: logger.child({ component: 'graphql' }),
      })
      const http = createApp({
        version: ctx.version,
        logger: logger.child({ component: 'http' }),
        startedAt: Date.now(),
        graphql,
      })
      const server = await listen(http, config.host, config.port, [(s) => graphql.attach(s)])
      const interrupt = onInterrupt()
      try {
        ctx.io.err.write(`shiioo listening on ${server.url} (data dir ${displayPath(config.dataDir, ctx.cwd)})\n`)
        logger.info('server started', { url: server.url, version: ctx.version })
        // catches the index up with the streams (queries wait for it), then takes over unfinished runs in
        // the background: at once, and every scan_ms those another process left (a stopped `shiioo run`)
        const supervisor = await orchestrator.supervise(systemCaller('server'), { scanMs: config.scanMs })
        const signal = await interrupt.signalled
        logger.info('shutting down', { signal })
        await supervisor.stop()
      } finally {
        interrupt.dispose()
        await server.close()
      }
    } finally {
      // stops driving runs (they resume on the next start), finishes projecting, closes the stores
      await app.close()
    }
    logger.info('stopped')
  })
}
