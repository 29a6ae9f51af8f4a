import type { Hook } from '@hono/zod-openapi'
import type { AppEnv } from './env.js'
import { validationError } from './errors.js'

/** What every route does with input that does not match its schema: the error shape, naming the field. */
export type ValidationHook = Hook<unknown, AppEnv, string, void>

export const validationHook: ValidationHook = (result) => {
  if (!result.success) throw validationError(TARGETS[result.target] ?? result.target, result.error)
}

const TARGETS: Readonly<Record<string, string>> = { json: 'body', param: 'path', header: 'header', query: 'query' }
