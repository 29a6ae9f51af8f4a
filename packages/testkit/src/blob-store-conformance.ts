import { createHash } from 'node:crypto'
import type { BlobStore, TenantId } from '@shiioo/core'
import { DEFAULT_TENANT } from '@shiioo/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { errorCodeOf } from './errors.js'

export interface BlobStoreHarness {
  blobs: BlobStore
  /** Overwrites the stored bytes of a blob behind the store's back, to test the read-time hash check. */
  tamper: (tenant: TenantId, key: string, bytes: Uint8Array) => Promise<void>
  cleanup: () => Promise<void>
}

const T = DEFAULT_TENANT
const OTHER = 'acme' as TenantId
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** The BlobStore port's contract. Every adapter runs this against its real backend. */
export function blobStoreConformance(name: string, factory: () => Promise<BlobStoreHarness>): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let h: BlobStoreHarness
    beforeEach(async () => {
      h = await factory()
    })
    afterEach(async () => {
      await h.cleanup()
    })

    it('stores bytes under their sha256 and returns them intact', async () => {
      const data = new TextEncoder().encode('{"prompt":"hello"}')
      const put = await h.blobs.put({ tenant: T, data })
      expect(put).toEqual({ key: sha(data), size: data.byteLength, created: true })
      expect(Buffer.from(await h.blobs.get({ tenant: T, key: put.key }))).toEqual(Buffer.from(data))
      expect(await h.blobs.has({ tenant: T, key: put.key })).toBe(true)
    })

    it('dedupes identical content', async () => {
      const data = new Uint8Array([1, 2, 3])
      await h.blobs.put({ tenant: T, data })
      const again = await h.blobs.put({ tenant: T, data })
      expect(again.created).toBe(false)
      const keys: string[] = []
      for await (const k of h.blobs.keys({ tenant: T })) keys.push(k)
      expect(keys).toEqual([sha(data)])
    })

    it('stores empty and large (2 MiB) blobs', async () => {
      const empty = await h.blobs.put({ tenant: T, data: new Uint8Array(0) })
      expect((await h.blobs.get({ tenant: T, key: empty.key })).byteLength).toBe(0)
      const big = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 251)
      const put = await h.blobs.put({ tenant: T, data: big })
      expect(sha(await h.blobs.get({ tenant: T, key: put.key }))).toBe(sha(big))
    })

    it('answers NOT_FOUND for a well-formed key that is not stored', async () => {
      expect(await errorCodeOf(h.blobs.get({ tenant: T, key: 'f'.repeat(64) }))).toBe('NOT_FOUND')
      expect(await h.blobs.has({ tenant: T, key: 'f'.repeat(64) })).toBe(false)
    })

    it('rejects every malformed key with INVALID_INPUT', async () => {
      const bad = [
        '../' + 'a'.repeat(61),
        '..%2f' + 'a'.repeat(59),
        'A'.repeat(64),
        'a'.repeat(63),
        'a'.repeat(65),
        'a'.repeat(63) + '\0',
        'a'.repeat(32) + '/' + 'a'.repeat(31),
        '',
        'g'.repeat(64),
        '/etc/passwd',
      ]
      for (const key of bad) {
        expect([key, await errorCodeOf(h.blobs.get({ tenant: T, key }))]).toEqual([key, 'INVALID_INPUT'])
        expect([key, await errorCodeOf(h.blobs.has({ tenant: T, key }))]).toEqual([key, 'INVALID_INPUT'])
      }
      expect(await errorCodeOf(h.blobs.get({ tenant: '../../x' as TenantId, key: 'a'.repeat(64) }))).toBe(
        'INVALID_INPUT',
      )
    })

    it('detects a blob altered in storage on read (DATA_CORRUPTED)', async () => {
      const put = await h.blobs.put({ tenant: T, data: new TextEncoder().encode('the truth') })
      await h.tamper(T, put.key, new TextEncoder().encode('the truth, edited'))
      expect(await errorCodeOf(h.blobs.get({ tenant: T, key: put.key }))).toBe('DATA_CORRUPTED')
    })

    it('keeps tenants apart', async () => {
      const put = await h.blobs.put({ tenant: OTHER, data: new TextEncoder().encode('acme secret plan') })
      expect(await h.blobs.has({ tenant: T, key: put.key })).toBe(false)
      expect(await errorCodeOf(h.blobs.get({ tenant: T, key: put.key }))).toBe('NOT_FOUND')
      expect(await h.blobs.has({ tenant: OTHER, key: put.key })).toBe(true)
    })
  })
}
