import type { TenantId } from '../ids.js'

export interface PutBlobResult {
  key: string
  size: number
  /** False when the blob was already stored (content addressing dedupes). */
  created: boolean
}

/**
 * Content-addressed bytes: the key is the sha256 of the content, as 64 lowercase hex characters.
 * `get` re-hashes what it reads and fails with DATA_CORRUPTED on a mismatch.
 */
export interface BlobStore {
  put(request: { tenant: TenantId; data: Uint8Array; signal?: AbortSignal }): Promise<PutBlobResult>
  get(request: { tenant: TenantId; key: string; signal?: AbortSignal }): Promise<Uint8Array>
  has(request: { tenant: TenantId; key: string }): Promise<boolean>
  keys(request: { tenant: TenantId; signal?: AbortSignal }): AsyncIterable<string>
}
