import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, open, readdir, readFile, rename, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { BLOB_KEY } from '../events/payload.js'
import { ShiiooError } from '../errors.js'
import type { TenantId } from '../ids.js'
import { parseTenantId } from '../ids.js'
import type { BlobStore, PutBlobResult } from '../ports/blob-store.js'
import { ensureDurableDir, fsyncDir } from './durable.js'
import { blobPath, blobsRoot } from './paths.js'

export interface FsBlobStoreOptions {
  dataDir: string
  /** Largest blob accepted (default 64 MiB). */
  maxBlobBytes?: number
}

/** Rejects anything but 64 lowercase hex characters: no `../`, no uppercase, no NUL, no other length. */
export function parseBlobKey(key: unknown): string {
  if (typeof key !== 'string' || !BLOB_KEY.test(key)) {
    const shown =
      typeof key === 'string' ? JSON.stringify(key.length > 80 ? key.slice(0, 77) + '...' : key) : typeof key
    throw new ShiiooError('INVALID_INPUT', `blob key ${shown} is not 64 lowercase hex characters (a sha256)`, {
      details: { field: 'key' },
    })
  }
  return key
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Content-addressed blobs at `blobs/<2 hex>/<sha256>`. A put writes a temp file, fsyncs it, renames
 * it into place and fsyncs the folder, so a blob is either whole or absent after a crash.
 */
export class FsBlobStore implements BlobStore {
  constructor(private readonly options: FsBlobStoreOptions) {}

  async put(request: { tenant: TenantId; data: Uint8Array; signal?: AbortSignal }): Promise<PutBlobResult> {
    const tenant = parseTenantId(request.tenant)
    const data = request.data
    if (!(data instanceof Uint8Array)) throw new ShiiooError('INVALID_INPUT', 'blob data must be bytes')
    const max = this.options.maxBlobBytes ?? 64 * 1024 * 1024
    if (data.byteLength > max) {
      throw new ShiiooError('PAYLOAD_TOO_LARGE', `blob of ${data.byteLength} bytes is over the ${max}-byte limit`)
    }
    request.signal?.throwIfAborted()
    const key = sha256Hex(data)
    const path = blobPath(this.options.dataDir, tenant, key)
    if (await exists(path)) return { key, size: data.byteLength, created: false }
    const dir = dirname(path)
    ensureDurableDir(dir)
    const tmp = join(dir, `.${key}.${randomBytes(6).toString('hex')}.tmp`)
    const fh = await open(tmp, 'wx', 0o644)
    try {
      await fh.writeFile(data)
      await fh.sync()
    } catch (err) {
      await fh.close()
      await unlink(tmp).catch(() => {})
      throw err
    }
    await fh.close()
    await rename(tmp, path)
    fsyncDir(dir)
    return { key, size: data.byteLength, created: true }
  }

  async get(request: { tenant: TenantId; key: string; signal?: AbortSignal }): Promise<Uint8Array> {
    const tenant = parseTenantId(request.tenant)
    const key = parseBlobKey(request.key)
    let data: Buffer
    try {
      data = await readFile(
        blobPath(this.options.dataDir, tenant, key),
        request.signal ? { signal: request.signal } : {},
      )
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ShiiooError('NOT_FOUND', `blob ${key} not found`)
      throw err
    }
    const actual = sha256Hex(data)
    if (actual !== key) {
      throw new ShiiooError('DATA_CORRUPTED', `blob ${key} is damaged: its content hashes to ${actual}`, {
        details: { key },
      })
    }
    return data
  }

  async has(request: { tenant: TenantId; key: string }): Promise<boolean> {
    const tenant = parseTenantId(request.tenant)
    return exists(blobPath(this.options.dataDir, tenant, parseBlobKey(request.key)))
  }

  async *keys(request: { tenant: TenantId; signal?: AbortSignal }): AsyncIterable<string> {
    const root = blobsRoot(this.options.dataDir, parseTenantId(request.tenant))
    for (const prefix of await listOrEmpty(root)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue
      request.signal?.throwIfAborted()
      for (const name of await listOrEmpty(join(root, prefix))) {
        if (BLOB_KEY.test(name) && name.startsWith(prefix)) yield name
      }
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK)
    return true
  } catch {
    return false
  }
}

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}
