import type { Command } from 'commander'
import { systemCaller } from '@shiioo/orchestrator'
import { Registry } from 'prom-client'
import { createApp } from '../app.js'
import { createServerMetrics } from '../http/metrics.js'
import { openOrchestrator, toolsReady } from '../compose.js'
import { createGraphQLServer } from '../graphql/graphql-server.js'
import { listen } from '../http/listen.js'
import { createMcpEndpoint } from '../http/mcp.js'
import type { CommandContext } from './context.js'
import type { GlobalOptions } from './options.js'
import { displayPath, loadCommandConfig, withGlobalOptions } from './options.js'
import { onInterrupt } from './shutdown.js'

interface ServeOptions extends GlobalOptions {
  host?: string
  port?: string
}

/** What a first start prints: the admin token, once, and what to do with it. */
function firstStartMessage(token: string, shiioo: string): string {
  return [
    'shiioo: first start: made principal admin and its API token. It is shown only this once; keep it in a secret store:',
    '',
    `  export SHIIOO_TOKEN=${token}`,
    '',
    'Send it as `Authorization: Bearer $SHIIOO_TOKEN`. To choose the admin token yourself, set SHIIOO_ADMIN_TOKEN',
    `before starting; make more tokens with \`${shiioo} token create <principal>\`.`,
    '',
  ].join('\n')
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
      const admin = await orchestrator.identity.bootstrap(systemCaller('server'), {
        ...(config.adminToken === null ? {} : { token: config.adminToken }),
      })
      // printed once, on stderr, never through the logger (log lines are shipped and kept)
      if (admin.token !== null) ctx.io.err.write(firstStartMessage(admin.token, ctx.shiioo))
      // the tool sources start now: a catalog that cannot work stops start-up, naming the entry;
      // a server that is down is said here, and its calls are UNAVAILABLE until it starts
      for (const { error } of await toolsReady(app)) {
        ctx.io.err.write(
          `shiioo: warning: ${error}; its tools are unavailable until it starts (tried again on a call)\n`,
        )
      }
      // one registry per process, owned here: nothing registers on prom-client's global one
      const metrics = createServerMetrics(new Registry())
      const ready = { indexCaughtUp: false, dataDirOpen: true }
      const graphql = createGraphQLServer({
        services: orchestrator,
        authenticate: (token) => orchestrator.identity.authenticate(token),
        logger: logger.child({ component: 'graphql' }),
      })
      const mcp = createMcpEndpoint({
        orchestrator,
        version: ctx.version,
        logger: logger.child({ component: 'mcp' }),
        allowedOrigins: config.http.corsOrigins,
      })
      const http = createApp({
        version: ctx.version,
        logger: logger.child({ component: 'http' }),
        startedAt: Date.now(),
        orchestrator,
        authenticate: (token) => orchestrator.identity.authenticate(token),
        metrics,
        http: config.http,
        readiness: () => ({
          ready: ready.indexCaughtUp && ready.dataDirOpen,
          checks: { indexCaughtUp: ready.indexCaughtUp, dataDirOpen: ready.dataDirOpen },
        }),
        graphql,
        mcp,
      })
      const server = await listen(http, config.host, config.port, [(s) => graphql.attach(s)])
      const interrupt = onInterrupt()
      const observing = new AbortController()
      let observed: Promise<void> = Promise.resolve()
      try {
        ctx.io.err.write(`shiioo listening on ${server.url} (data dir ${displayPath(config.dataDir, ctx.cwd)})\n`)
        logger.info('server started', { url: server.url, version: ctx.version })
        // step latencies and run ends from the live feed (the default tenant's until tenants arrive)
        observed = orchestrator.metrics
          .observe(systemCaller('metrics'), (o) => metrics.observe(o), { signal: observing.signal })
          .catch((err: unknown) => logger.error('metrics stopped following the feed', { err }))
        // catches the index up with the streams (queries wait for it), then takes over unfinished runs in
        // the background: at once, and every scan_ms those another process left (a stopped `shiioo run`)
        const supervisor = await orchestrator.supervise(systemCaller('server'), { scanMs: config.scanMs })
        ready.indexCaughtUp = true
        const signal = await interrupt.signalled
        ready.dataDirOpen = false
        logger.info('shutting down', { signal })
        await supervisor.stop()
      } finally {
        ready.dataDirOpen = false
        interrupt.dispose()
        observing.abort()
        await observed
        // ends the MCP sessions' notification streams, which would hold the server's close open
        await mcp.close()
        await server.close()
      }
    } finally {
      // stops driving runs (they resume on the next start), finishes projecting, closes the stores
      await app.close()
    }
    logger.info('stopped')
  })
}
