import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { Logger } from '@shiioo/core'
import { ShiiooError, isShiiooError, toShiiooError } from '@shiioo/core'
import type { GraphQLServices } from '@shiioo/graphql'
import { GRAPHQL_ERRORS, createGraphQL, toGraphQLError } from '@shiioo/graphql'
import type { CallerContext } from '@shiioo/orchestrator'
import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit'
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth'
import { renderGraphiQL } from '@graphql-yoga/render-graphiql'
import type {
  DocumentNode,
  ExecutionArgs,
  GraphQLError as GraphQLErrorType,
  GraphQLSchema,
  ValidationContext,
  execute,
  subscribe,
} from 'graphql'
import { GraphQLError } from 'graphql'
import { CloseCode } from 'graphql-ws'
import { useServer } from 'graphql-ws/use/ws'
import { createYoga } from 'graphql-yoga'
import { WebSocketServer } from 'ws'

export const GRAPHQL_PATH = '/api/graphql'
export const GRAPHQL_WS_PATH = '/api/graphql/ws'

/** Who a bearer token acts as; throws a ShiiooError (UNAUTHENTICATED, FORBIDDEN) when it acts as no one. */
export type Authenticate = (token: string) => Promise<CallerContext>

export interface GraphQLLimits {
  /** Deepest selection an operation may make. */
  depth: number
  /** Highest cost (armor's count of objects and scalars, weighted by depth) an operation may have. */
  cost: number
}

export const DEFAULT_GRAPHQL_LIMITS: GraphQLLimits = { depth: 10, cost: 5000 }

export interface GraphQLServerDeps {
  services: GraphQLServices
  authenticate: Authenticate
  logger: Logger
  limits?: GraphQLLimits
}

/** The GraphQL endpoint: queries, mutations and SSE subscriptions over fetch; graphql-transport-ws over an upgrade. */
export interface GraphQLServer {
  /** Answers a request to GRAPHQL_PATH (GET serves GraphiQL to a browser). */
  fetch(request: Request): Response | Promise<Response>
  /** Takes the WebSocket upgrades to GRAPHQL_WS_PATH of `server`; `close()` ends their connections. */
  attach(server: Server): { close(): Promise<void> }
}

/** What an operation starts from: the request (over HTTP), or the caller its WebSocket connection authenticated as. */
interface ServerContext {
  caller?: CallerContext
}

/** What yoga's envelop pipeline gives an operation it did not receive over HTTP. */
interface EnvelopedOperation {
  schema: GraphQLSchema
  parse(source: string): DocumentNode
  validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLErrorType[]
  contextFactory(): Promise<unknown>
  execute: typeof execute
  subscribe: typeof subscribe
}

/** The token of an `Authorization: Bearer <token>` value. */
function bearerToken(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ShiiooError('UNAUTHENTICATED', 'a bearer token is required: send Authorization: Bearer <token>')
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value.trim())
  if (!m) throw new ShiiooError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"')
  return m[1]!
}

const ACCESS_STATUS = { UNAUTHENTICATED: 401, FORBIDDEN: 403 } as const

/** A refused token as the GraphQL error an HTTP client gets, with its status. */
function accessError(error: unknown): GraphQLError {
  const e = toShiiooError(error)
  const status = e.code === 'UNAUTHENTICATED' || e.code === 'FORBIDDEN' ? ACCESS_STATUS[e.code] : null
  if (status === null) return toGraphQLError(e).error
  return new GraphQLError(e.message, {
    extensions: { code: GRAPHQL_ERRORS[e.code].code, http: { status, headers: { 'WWW-Authenticate': 'Bearer' } } },
  })
}

/** An operation over a limit, refused before it runs, saying which limit. */
function limitRejection(limit: 'depth' | 'cost') {
  return (context: ValidationContext | null, error: GraphQLErrorType) => {
    const message = `operation refused: ${error.message.replace(/^Syntax Error: /, '')}`
    context?.reportError(new GraphQLError(message, { extensions: { code: 'INVALID_INPUT', limit } }))
  }
}

/**
 * Yoga answers with whatwg-node's Response, whose body the Node adapter reads back as a stream,
 * chunk by chunk. A JSON answer (complete when yoga returns it) is copied into the platform's
 * Response, which the adapter writes in one go; event streams (subscriptions over SSE) and
 * GraphiQL's page pass as they are.
 */
async function asPlatformAnswer(answer: Response): Promise<Response> {
  if (!(answer.headers.get('content-type') ?? '').includes('json')) return answer
  return new Response(await answer.text(), {
    status: answer.status,
    statusText: answer.statusText,
    headers: new Headers(answer.headers),
  })
}

export function createGraphQLServer(deps: GraphQLServerDeps): GraphQLServer {
  const { services, authenticate, logger } = deps
  const limits = deps.limits ?? DEFAULT_GRAPHQL_LIMITS
  const api = createGraphQL(services)
  const yoga = createYoga<ServerContext>({
    schema: api.schema,
    graphqlEndpoint: GRAPHQL_PATH,
    renderGraphiQL,
    graphiql: { title: 'Shiioo GraphQL', subscriptionsProtocol: 'GRAPHQL_SSE' },
    landingPage: false,
    logging: false,
    // the app's body limit (`http.max_body_bytes`, 1 MiB by default) is applied to this endpoint
    // before yoga sees a request (app.ts); yoga's own, looser one (25 MB) piped every body through
    // a web TransformStream and a second Request
    maxRequestBodySize: false,
    // CORS is the app's (closed unless `http.cors_origins` names origins, app.ts); yoga's default
    // answered every origin, credentials allowed
    cors: false,
    context: async (initial) => {
      if (initial.caller) return api.context(initial.caller)
      let caller: CallerContext
      try {
        caller = await authenticate(bearerToken(initial.request.headers.get('authorization')))
      } catch (error) {
        throw accessError(error)
      }
      return api.context(caller)
    },
    maskedErrors: {
      maskError: (error) => {
        const { error: mapped, masked } = toGraphQLError(error)
        if (masked) logger.error('GraphQL operation failed', { err: error })
        return mapped
      },
    },
    plugins: [
      maxDepthPlugin({ n: limits.depth, propagateOnRejection: false, onReject: [limitRejection('depth')] }),
      costLimitPlugin({ maxCost: limits.cost, propagateOnRejection: false, onReject: [limitRejection('cost')] }),
    ],
  })

  return {
    fetch: async (request) => asPlatformAnswer(await yoga.fetch(request, {})),
    attach(server) {
      const wss = new WebSocketServer({ noServer: true })
      const callers = new WeakMap<object, CallerContext>()
      const disposable = useServer<Record<string, unknown>>(
        {
          onConnect: async (ctx) => {
            try {
              const given = ctx.connectionParams?.authorization ?? ctx.extra.request.headers.authorization
              callers.set(ctx, await authenticate(bearerToken(given)))
              return true
            } catch (error) {
              const e = toShiiooError(error)
              if (!isShiiooError(error) || (e.code !== 'UNAUTHENTICATED' && e.code !== 'FORBIDDEN')) {
                logger.error('could not authenticate a WebSocket connection', { err: error })
              }
              // graphql-ws closes a refused connection with 4403; an unknown or missing token is 4401
              if (e.code !== 'FORBIDDEN') ctx.extra.socket.close(CloseCode.Unauthorized, e.message.slice(0, 120))
              return false
            }
          },
          onSubscribe: async (ctx, _id, payload) => {
            const caller = callers.get(ctx)!
            // the same pipeline as over HTTP (limits, error masking), with the connection's caller
            const op = yoga.getEnveloped({ caller, params: payload }) as EnvelopedOperation
            let document: DocumentNode
            try {
              document = op.parse(payload.query)
            } catch (error) {
              return [error as GraphQLErrorType]
            }
            const errors = op.validate(op.schema, document)
            if (errors.length > 0) return errors
            const args: ExecutionArgs = {
              schema: op.schema,
              document,
              operationName: payload.operationName ?? null,
              variableValues: payload.variables ?? null,
              contextValue: await op.contextFactory(),
              rootValue: op,
            }
            return args
          },
          execute: (args) => (args.rootValue as EnvelopedOperation).execute(args),
          subscribe: (args) => (args.rootValue as EnvelopedOperation).subscribe(args),
        },
        wss,
      )
      const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        const path = new URL(request.url ?? '/', 'http://localhost').pathname
        if (path === GRAPHQL_WS_PATH) {
          wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request))
        } else if (server.listenerCount('upgrade') === 1) {
          // no one else takes upgrades: refuse, rather than leave the socket hanging
          socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
        }
      }
      server.on('upgrade', onUpgrade)
      return {
        close: async () => {
          server.off('upgrade', onUpgrade)
          await disposable.dispose()
        },
      }
    },
  }
}
