import { randomUUID } from 'node:crypto'
import type { ErrorCode, Logger } from '@shiioo/core'
import { toShiiooError } from '@shiioo/core'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'

/** JSON-RPC 2.0's codes and the one MCP adds (resources/read of an unknown URI). */
export const JSON_RPC = {
  InvalidRequest: -32600,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The SDK's transport answers an unknown or closed session with it (HTTP 404). */
  SessionNotFound: -32001,
  ResourceNotFound: -32002,
} as const

/**
 * How each error code reaches an MCP client; a new code does not compile until it is mapped here.
 *
 * `tools/call` (MCP 2025-06-18 and 2025-11-25, "Error Handling"): a tool the caller cannot see (no
 * such tool, or one it is not granted: the two look alike on purpose) is a protocol error,
 * InvalidParams -32602. Every error the call itself fails with is a tool-execution error: a
 * result with `isError: true`, text `CODE: message` and `structuredContent.error`
 * `{ code, message, retryable, details? }`, so the model reads it and can correct itself. That
 * includes INVALID_INPUT for arguments that fail the tool's schema (2025-11-25, SEP-1303: input
 * validation errors are tool-execution errors), FORBIDDEN, a NOT_FOUND of something the tool
 * looked for, RATE_LIMITED and UNAVAILABLE (`retryable: true`).
 *
 * `resources/*` have no error result: a failure is a JSON-RPC error with `jsonRpc` as its code and
 * `data: { code, retryable }` (an unknown URI is -32002, "Resource not found", as the spec says).
 *
 * `http` is the status of a failure before a request reaches an MCP session (authentication).
 *
 * `masked`: the message is replaced by a generic one with a reference, and the error is logged in
 * full under that reference; a client never sees a stack, a path of the server or a secret.
 */
export const MCP_ERRORS: Readonly<Record<ErrorCode, { jsonRpc: number; http: number; masked: boolean }>> = {
  INVALID_INPUT: { jsonRpc: JSON_RPC.InvalidParams, http: 400, masked: false },
  UNAUTHENTICATED: { jsonRpc: JSON_RPC.InvalidRequest, http: 401, masked: false },
  BUDGET_EXCEEDED: { jsonRpc: JSON_RPC.InternalError, http: 402, masked: false },
  FORBIDDEN: { jsonRpc: JSON_RPC.InvalidRequest, http: 403, masked: false },
  NOT_FOUND: { jsonRpc: JSON_RPC.ResourceNotFound, http: 404, masked: false },
  CONFLICT: { jsonRpc: JSON_RPC.InternalError, http: 409, masked: false },
  LEASE_LOST: { jsonRpc: JSON_RPC.InternalError, http: 409, masked: false },
  GONE: { jsonRpc: JSON_RPC.ResourceNotFound, http: 410, masked: false },
  PAYLOAD_TOO_LARGE: { jsonRpc: JSON_RPC.InternalError, http: 413, masked: false },
  QUOTA_EXCEEDED: { jsonRpc: JSON_RPC.InternalError, http: 429, masked: false },
  RATE_LIMITED: { jsonRpc: JSON_RPC.InternalError, http: 429, masked: false },
  UNAVAILABLE: { jsonRpc: JSON_RPC.InternalError, http: 503, masked: false },
  DATA_CORRUPTED: { jsonRpc: JSON_RPC.InternalError, http: 500, masked: true },
  INTERNAL: { jsonRpc: JSON_RPC.InternalError, http: 500, masked: true },
}

/** What a client is told of an error. */
export interface McpErrorInfo {
  code: ErrorCode
  message: string
  retryable: boolean
  details?: Record<string, unknown>
}

/**
 * Anything thrown, as a client may see it: unknown failures are INTERNAL, and masked codes get a
 * generic message naming a reference that the logged error carries too.
 */
export function describeError(thrown: unknown, logger: Logger, what: string): McpErrorInfo {
  const err = toShiiooError(thrown)
  if (MCP_ERRORS[err.code].masked) {
    const ref = randomUUID()
    logger.error(what, { err: thrown, ref })
    const message =
      err.code === 'DATA_CORRUPTED'
        ? `stored data failed an integrity check: the details are in the server log (ref ${ref})`
        : `internal error: the details are in the server log (ref ${ref})`
    return { code: err.code, message, retryable: false }
  }
  const details = Object.keys(err.details).length > 0 ? { details: err.details } : {}
  return { code: err.code, message: err.message, retryable: err.retryable, ...details }
}

/** A failed tool call as the tool-execution error result that the model reads. */
export function toolErrorResult(info: McpErrorInfo): CallToolResult {
  return {
    isError: true,
    content: [{ type: 'text', text: `${info.code}: ${info.message}` }],
    structuredContent: { error: { ...info } },
  }
}

/**
 * A JSON-RPC error a request handler throws: the SDK answers with its `code`, `message` and `data`
 * as they are (its own McpError would prefix the message with "MCP error <code>:").
 */
export class JsonRpcError extends Error {
  override readonly name = 'JsonRpcError'
  constructor(
    readonly code: number,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message)
  }
}

/** A failure of a resources/* request as its JSON-RPC error. */
export function toJsonRpcError(info: McpErrorInfo, data: Record<string, unknown> = {}): JsonRpcError {
  return new JsonRpcError(MCP_ERRORS[info.code].jsonRpc, info.message, {
    ...data,
    code: info.code,
    retryable: info.retryable,
  })
}
