import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { TenantId } from '../ids.js'
import { parseTenantId } from '../ids.js'
import { ShiiooError } from '../errors.js'
import type { Lease, Leases } from '../ports/leases.js'
import { FileLock, LockIdentity } from './file-lock.js'
import { tenantRoot } from './paths.js'

const NAME = /^[a-z0-9_.-]{1,120}$/i

/** Leases as lock files under `<tenant root>/leases/`, broken when their owner process is gone. */
export class FsLeases implements Leases {
  private readonly identity: LockIdentity
  private readonly dirs = new Set<string>()

  constructor(private readonly options: { dataDir: string }) {
    this.identity = new LockIdentity(join(options.dataDir, 'locks'))
  }

  tryAcquire(tenant: TenantId, name: string): Lease | null {
    if (!NAME.test(name))
      throw new ShiiooError('INVALID_INPUT', `lease name "${name}" is not letters, digits, _, . or -`)
    const dir = join(tenantRoot(this.options.dataDir, parseTenantId(tenant)), 'leases')
    if (!this.dirs.has(dir)) {
      mkdirSync(dir, { recursive: true })
      this.dirs.add(dir)
    }
    const lock = new FileLock(join(dir, `${name}.lock`), { identity: this.identity })
    if (!lock.tryAcquire()) return null
    return { name, release: () => lock.release() }
  }

  /** Removes this holder's identity file; leases still held stay valid until released. */
  close(): void {
    this.identity.dispose()
  }
}
