import type { Readable, Writable } from 'node:stream'
import type { Logger } from '@shiioo/core'
import { toShiiooError } from '@shiioo/core'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { ConfigError, createLogger, loadProcessConfig, onInterrupt, reportError } from 'shiioo/compose'
import type { CommandLine } from './command-line.js'
import { USAGE, parseCommandLine } from './command-line.js'
import { openLocal } from './local.js'
import { openRemote } from './remote.js'
import { serveStdio } from './stdio.js'
import { readVersion } from './version.js'

export interface McpIo {
  stdin: Readable
  /** The MCP protocol, and nothing else. */
  stdout: Writable
  /** Everything for a person: usage, errors, log lines. */
  stderr: Writable
}

/**
 * Runs shiioo-mcp with `argv` (without node and the script) until its MCP client goes away or a
 * signal stops it; returns the exit code (2 for bad usage or configuration, as the shiioo CLI).
 */
export async function runShiiooMcp(argv: readonly string[], io: McpIo): Promise<number> {
  const version = readVersion()
  let line: CommandLine
  try {
    line = parseCommandLine(argv)
  } catch (err) {
    io.stderr.write(`shiioo-mcp: ${toShiiooError(err).message}\n(add --help for usage)\n`)
    return 2
  }
  try {
    if (line.help) {
      io.stderr.write(USAGE)
      return 0
    }
    if (line.version) {
      io.stderr.write(`${version}\n`)
      return 0
    }
    // a server does the work (no model is called here): no capacity keys are needed to reach it
    const settings = loadProcessConfig(line.flags, { logLevel: 'warn' }, { requireKeys: false })
    const interrupt = onInterrupt()
    const stop = new AbortController()
    void interrupt.signalled.then(() => stop.abort())
    try {
      if (settings.remote !== null) {
        const { url, token } = settings.remote
        if (token === null) {
          throw new ConfigError([
            `SHIIOO_TOKEN: not set; the server at ${url} needs an API token (make one with \`shiioo token create\`)`,
          ])
        }
        const logger = createLogger(settings.logLevel).child({ component: 'shiioo-mcp' })
        const remote = await openRemote({ url, token, version, logger })
        return await serve(remote.server, io, logger, stop.signal, () => remote.close())
      }
      // runs started here are driven here: their capacity sources need their keys
      const config = loadProcessConfig(line.flags, { logLevel: 'warn' }, { requireKeys: true })
      const local = await openLocal(config, { tenant: line.tenant, version })
      return await serve(local.server, io, local.composed.logger, stop.signal, () => local.close())
    } finally {
      interrupt.dispose()
    }
  } catch (err) {
    return reportError(err, io.stderr)
  }
}

async function serve(
  server: Server,
  io: McpIo,
  logger: Logger,
  stop: AbortSignal,
  close: () => Promise<void>,
): Promise<number> {
  try {
    logger.info('shiioo-mcp serving MCP over stdio')
    await serveStdio(server, io, logger, stop)
    return 0
  } finally {
    await close()
  }
}
