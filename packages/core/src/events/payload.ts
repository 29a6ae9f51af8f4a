import { z } from 'zod'

export const BLOB_KEY = /^[0-9a-f]{64}$/

export const blobKeySchema = z.string().regex(BLOB_KEY, 'a blob key is 64 lowercase hex characters')

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export const jsonSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonSchema), z.record(z.string(), jsonSchema)]),
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
