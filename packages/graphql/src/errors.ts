import type { ErrorCode } from '@shiioo/core'
import { isShiiooError } from '@shiioo/core'
import { GraphQLError } from 'graphql'

/**
 * What a GraphQL client sees of each error code: `extensions.code` (the code itself, so every edge
 * names an error alike), and whether its message is shown. A new code does not compile until it is
 * mapped here. Internal failures and corrupted data are masked: their details go to the server log.
 */
export const GRAPHQL_ERRORS: Readonly<Record<ErrorCode, { code: ErrorCode; masked: boolean }>> = {
  INVALID_INPUT: { code: 'INVALID_INPUT', masked: false },
  NOT_FOUND: { code: 'NOT_FOUND', masked: false },
  CONFLICT: { code: 'CONFLICT', masked: false },
  LEASE_LOST: { code: 'LEASE_LOST', masked: false },
  UNAUTHENTICATED: { code: 'UNAUTHENTICATED', masked: false },
  FORBIDDEN: { code: 'FORBIDDEN', masked: false },
  QUOTA_EXCEEDED: { code: 'QUOTA_EXCEEDED', masked: false },
  BUDGET_EXCEEDED: { code: 'BUDGET_EXCEEDED', masked: false },
  RATE_LIMITED: { code: 'RATE_LIMITED', masked: false },
  PAYLOAD_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', masked: false },
  GONE: { code: 'GONE', masked: false },
  UNAVAILABLE: { code: 'UNAVAILABLE', masked: false },
  DATA_CORRUPTED: { code: 'DATA_CORRUPTED', masked: true },
  INTERNAL: { code: 'INTERNAL', masked: true },
}

const MASKED_MESSAGE: Readonly<Record<'DATA_CORRUPTED' | 'INTERNAL', string>> = {
  DATA_CORRUPTED: 'stored data failed an integrity check: the details are in the server log',
  INTERNAL: 'internal error: the details are in the server log',
}

/** The error thrown by a service (or anything else), as a GraphQL error; `masked` when its details stay in the log. */
export function toGraphQLError(
  error: unknown,
  path?: readonly (string | number)[],
): { error: GraphQLError; masked: boolean } {
  const wrapper = isGraphQLError(error) ? error : null
  const original = wrapper?.originalError ?? error
  // the executor's own (validation, bad variables), as it made it
  if (isGraphQLError(original)) return { error: original, masked: false }
  const shiioo = isShiiooError(original) ? original : null
  const code: ErrorCode = shiioo?.code ?? 'INTERNAL'
  const mapped = GRAPHQL_ERRORS[code]
  const message = mapped.masked ? MASKED_MESSAGE[code as keyof typeof MASKED_MESSAGE] : shiioo!.message
  const field = !mapped.masked && typeof shiioo?.details.field === 'string' ? { field: shiioo.details.field } : {}
  const gqlPath = path ?? wrapper?.path
  return {
    error: new GraphQLError(message, {
      ...(gqlPath === undefined ? {} : { path: gqlPath }),
      ...(wrapper?.nodes ? { nodes: wrapper.nodes } : {}),
      extensions: { code: mapped.code, retryable: shiioo?.retryable ?? false, ...field },
    }),
    masked: mapped.masked,
  }
}

/**
 * By name, not `instanceof`: a server may load graphql both as ESM and as CommonJS (yoga's
 * dependencies), and each copy has its own class.
 */
function isGraphQLError(value: unknown): value is GraphQLError {
  return value instanceof Error && value.name === 'GraphQLError'
}
