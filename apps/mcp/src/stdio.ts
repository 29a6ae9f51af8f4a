import type { Readable, Writable } from 'node:stream'
import type { Logger } from '@shiioo/core'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'

export interface StdioStreams {
  stdin: Readable
  /** The protocol only: nothing else is ever written here. */
  stdout: Writable
}

/**
 * Serves one MCP session over stdin/stdout until the client closes stdin (how MCP clients end a
 * stdio server), the server is closed, or `stop` aborts (SIGINT, SIGTERM).
 */
export async function serveStdio(server: Server, io: StdioStreams, logger: Logger, stop: AbortSignal): Promise<void> {
  const transport = new StdioServerTransport(io.stdin, io.stdout)
  const closed = new Promise<void>((resolve) => {
    const previous = server.onclose
    server.onclose = () => {
      previous?.()
      resolve()
    }
  })
  const end = (why: string) => {
    logger.debug('ending the MCP session', { why })
    server.close().catch((err: unknown) => logger.warn('closing the MCP session failed', { err }))
  }
  const onEnd = () => end('stdin closed')
  const onAbort = () => end('interrupted')
  // the SDK's transport does not notice the end of its input: the client has gone
  io.stdin.once('end', onEnd)
  io.stdin.once('close', onEnd)
  stop.addEventListener('abort', onAbort, { once: true })
  try {
    await server.connect(transport)
    if (stop.aborted) end('interrupted')
    await closed
  } finally {
    io.stdin.off('end', onEnd)
    io.stdin.off('close', onEnd)
    stop.removeEventListener('abort', onAbort)
  }
}
