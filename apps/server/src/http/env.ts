import type { Logger } from '@shiioo/core'
import type { CallerContext } from '@shiioo/orchestrator'

/** What middleware puts on a request's context for the handlers after it. */
export interface AppEnv {
  Variables: {
    /** The request's id: the client's `X-Request-Id` when well formed, else a new one. */
    requestId: string
    /** The app's logger with the request id (and method and path) as context. */
    logger: Logger
    /** Who calls: set by the bearer authentication on every protected route. */
    caller: CallerContext
  }
}
