import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { ShiiooError } from '@shiioo/core'

export interface RunningServer {
  /** The bound port: the one asked for, or the one the OS picked for port 0. */
  port: number
  url: string
  close(): Promise<void>
}

const CLOSE_GRACE_MS = 5_000

function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `port ${port} on ${host}`
  if (err.code === 'EADDRINUSE') {
    return new ShiiooError(
      'UNAVAILABLE',
      `${where} is already in use: stop the process using it, or choose another port with --port or SHIIOO_PORT`,
      { retryable: false, cause: err },
    )
  }
  if (err.code === 'EACCES') {
    return new ShiiooError(
      'FORBIDDEN',
      `not allowed to listen on ${where}: choose a port above 1023 with --port or SHIIOO_PORT`,
      { cause: err },
    )
  }
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
    return new ShiiooError('INVALID_INPUT', `cannot listen on host ${host}: set --host or SHIIOO_HOST`, { cause: err })
  }
  return err
}

export function formatUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** Takes what the app does not (WebSocket upgrades); `close()` ends it before the server closes. */
export type ServerAttachment = (server: Server) => { close(): Promise<void> }

/** Binds the app to host:port; resolves once it accepts connections. */
export async function listen(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  host: string,
  port: number,
  attach: readonly ServerAttachment[] = [],
): Promise<RunningServer> {
  const server = createAdaptorServer({ fetch: app.fetch, hostname: host }) as Server
  const attached = attach.map((a) => a(server))
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, host, port))
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const bound = (server.address() as AddressInfo).port
  return {
    port: bound,
    url: formatUrl(host, bound),
    close: async () => {
      await Promise.all(attached.map((a) => a.close()))
      await new Promise<void>((resolve, reject) => {
        // idle keep-alive connections would hold close() open; busy ones get a grace period
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS)
        force.unref()
        server.close((err) => {
          clearTimeout(force)
          if (err) reject(err)
          else resolve()
        })
        server.closeIdleConnections()
      })
    },
  }
}
