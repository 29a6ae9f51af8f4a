import { join } from 'node:path'
import type { StreamId, TenantId } from '../ids.js'
import { DEFAULT_TENANT, idTime, streamKind } from '../ids.js'

/**
 * The data dir layout. The default tenant lives at the root; every other tenant has the same
 * layout under `tenants/<tenant>/`. Ids are validated before they reach a path, so no id can
 * climb out of its folder.
 */
export function tenantRoot(dataDir: string, tenant: TenantId): string {
  return tenant === DEFAULT_TENANT ? dataDir : join(dataDir, 'tenants', tenant)
}

/** `events/YYYY/MM/DD/<run_id>.jsonl.gz` dated by the run's start (its ULID time), or `control/<name>.jsonl.gz`. */
export function streamPath(dataDir: string, tenant: TenantId, stream: StreamId): string {
  const root = tenantRoot(dataDir, tenant)
  if (streamKind(stream) === 'control') return join(root, 'control', `${stream}.jsonl.gz`)
  const d = new Date(idTime(stream))
  const yyyy = String(d.getUTCFullYear()).padStart(4, '0')
  const mm = String(d.getUTCMonth() + 1).padStart(2, '0')
  const dd = String(d.getUTCDate()).padStart(2, '0')
  return join(root, 'events', yyyy, mm, dd, `${stream}.jsonl.gz`)
}

export function blobPath(dataDir: string, tenant: TenantId, key: string): string {
  return join(tenantRoot(dataDir, tenant), 'blobs', key.slice(0, 2), key)
}

export function blobsRoot(dataDir: string, tenant: TenantId): string {
  return join(tenantRoot(dataDir, tenant), 'blobs')
}
