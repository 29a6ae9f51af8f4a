import { createHash } from 'node:crypto'
import type { BlobStore, Json, Payload, TenantId } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'

export const JSON_CONTENT_TYPE = 'application/json'

/** Bytes waiting to be stored as blobs before the events that name them are appended. */
export type PendingBlobs = Map<string, Uint8Array>

/**
 * A value as an event payload: inline when its JSON is at most `inlineLimit` bytes, otherwise a
 * blob reference (the bytes are queued in `pending` and must be stored before the event is).
 */
export function toPayload(value: Json, inlineLimit: number, pending: PendingBlobs): Payload {
  const text = JSON.stringify(value)
  if (text.length <= inlineLimit / 3 || Buffer.byteLength(text) <= inlineLimit) return { inline: value }
  const bytes = Buffer.from(text)
  const key = createHash('sha256').update(bytes).digest('hex')
  pending.set(key, bytes)
  return { blob: key, size: bytes.length, contentType: JSON_CONTENT_TYPE }
}

/** Moves every large inline payload of an event's data (`input`, `output`, `payload`, an agent turn's `request`/`response`) to a blob. */
export function externalizePayloads(data: Record<string, unknown>, inlineLimit: number, pending: PendingBlobs): void {
  for (const field of ['input', 'output', 'payload', 'request', 'response']) {
    const p = data[field] as Payload | undefined
    if (p !== undefined && 'inline' in p) data[field] = toPayload(p.inline, inlineLimit, pending)
  }
}

export async function storePending(blobs: BlobStore, tenant: TenantId, pending: PendingBlobs): Promise<void> {
  if (pending.size === 0) return
  await Promise.all([...pending.values()].map((data) => blobs.put({ tenant, data })))
  pending.clear()
}

/** The JSON value a payload holds; a blob payload is read (and re-hashed) from the store. */
export async function resolvePayload(
  blobs: BlobStore,
  tenant: TenantId,
  payload: Payload | null | undefined,
): Promise<Json> {
  if (payload === null || payload === undefined) return null
  if ('inline' in payload) return payload.inline
  const bytes = await blobs.get({ tenant, key: payload.blob })
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as Json
  } catch {
    throw new ShiiooError('DATA_CORRUPTED', `blob ${payload.blob} is not the JSON its event says it is`)
  }
}
