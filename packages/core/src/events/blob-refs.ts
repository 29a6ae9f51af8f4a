import type { StoredEvent } from './envelope.js'
import { BLOB_KEY } from './payload.js'

/** A blob an event names, and where in the event's data (`output`, `workflow.hash`, ...). */
export interface BlobReference {
  key: string
  path: string
}

/**
 * The blobs an event names, which must be in its tenant's blob store: every payload in its blob
 * form (`{ blob, size, contentType }`) anywhere in the data, and the workflow definition a run
 * started with or a name was registered as (a definition is stored as the blob its hash names).
 * Inline values are the user's JSON, never references, so they are not searched; other hashes
 * (an idempotency claim's request hash) name no blob.
 */
export function blobReferences(event: StoredEvent): BlobReference[] {
  const out: BlobReference[] = []
  if (event.type === 'run.started') out.push({ key: event.data.workflow.hash, path: 'workflow.hash' })
  if (event.type === 'workflow.registered') out.push({ key: event.data.hash, path: 'hash' })
  collect(event.data, '', out, 0)
  return out
}

function collect(value: unknown, path: string, out: BlobReference[], depth: number): void {
  if (value === null || typeof value !== 'object' || depth > 64) return
  if (Array.isArray(value)) {
    value.forEach((v, i) => collect(v, `${path}[${i}]`, out, depth + 1))
    return
  }
  const record = value as Record<string, unknown>
  if (typeof record.blob === 'string' && BLOB_KEY.test(record.blob)) {
    out.push({ key: record.blob, path: path || '.' })
    return
  }
  const keys = Object.keys(record)
  // a payload's inline form holds the user's JSON
  if (keys.length === 1 && keys[0] === 'inline') return
  for (const k of keys) collect(record[k], path ? `${path}.${k}` : k, out, depth + 1)
}
