import type { Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { ShiiooError } from '@shiioo/core'
import type { ErrorBody } from './errors.js'

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

/**
 * A request Node's HTTP parser refuses never reaches the app: a URL and headers over Node's
 * 16 KiB limit, a malformed request line, a header read too slowly. Node would answer it with
 * an empty 431/400/408; it gets the API's one error shape instead, then the connection closes.
 */
function answerClientError(err: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const [status, reason, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request line and headers are larger than the server accepts']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request was not received in time']
        : [400, 'Bad Request', 'malformed HTTP request']
  const body: ErrorBody = {
    error: { code: 'INVALID_INPUT', message, retryable: false, details: { field: 'request' }, requestId: null },
  }
  const json = JSON.stringify(body)
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
  )
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
  server.on('clientError', answerClientError)
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
