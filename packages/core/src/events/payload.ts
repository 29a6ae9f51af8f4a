import { z } from 'zod'

export const BLOB_KEY = /^[0-9a-f]{64}$/

export const blobKeySchema = z.string().regex(BLOB_KEY, 'a blob key is 64 lowercase hex characters')

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/**
 * How deep a value carried by an event may nest: a leaf at most this many lists and objects below
 * the value itself. Readers fold and render values recursively; this keeps that bounded.
 */
export const MAX_JSON_DEPTH = 64

/** True for values that survive JSON round-trips unchanged: plain objects, arrays, finite numbers, ... */
export function isJson(value: unknown, depth = 0): value is Json {
  if (depth > MAX_JSON_DEPTH) return false
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isFinite(value)
  if (typeof value !== 'object') return false
  if (Array.isArray(value)) return value.every((v) => isJson(v, depth + 1))
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) return false
  for (const k in value) if (!isJson((value as Record<string, unknown>)[k], depth + 1)) return false
  return true
}

// A hand-written check rather than a recursive zod union: it runs for every event read.
export const jsonSchema: z.ZodType<Json> = z.custom<Json>(
  (v) => isJson(v),
  `must be plain JSON (finite numbers, at most ${MAX_JSON_DEPTH} levels)`,
)

/** A value carried by an event: small values inline, large or sensitive ones in a blob by hash. */
export const payloadSchema = z.union([
  z.object({ inline: jsonSchema }).strict(),
  z.object({ blob: blobKeySchema, size: z.number().int().nonnegative(), contentType: z.string().max(100) }).strict(),
])
export type Payload = z.infer<typeof payloadSchema>

export const errorInfoSchema = z
  .object({
    code: z.string().min(1).max(64),
    message: z.string().max(4000),
    retryable: z.boolean(),
  })
  .strict()
export type ErrorInfo = z.infer<typeof errorInfoSchema>
