import { statSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { TenantId } from '../ids.js'
import { DEFAULT_TENANT, isStreamId, isTenantId, parseTenantId, streamKind } from '../ids.js'
import type { ListStreamsRequest, StreamInfo } from '../ports/event-log.js'
import { tenantRoot } from './paths.js'

/**
 * The streams of a data dir, found by walking its layout: `control/` and
 * `events/YYYY/MM/DD/` of every tenant. A stream's token is its file's size and mtime.
 */
export async function* listStreamFiles(dataDir: string, request: ListStreamsRequest = {}): AsyncIterable<StreamInfo> {
  const tenants = request.tenant ? [parseTenantId(request.tenant)] : await listTenants(dataDir)
  for (const tenant of tenants) {
    const root = tenantRoot(dataDir, tenant)
    if (request.kind !== 'run') yield* filesIn(join(root, 'control'), tenant, 'control')
    if (request.kind !== 'control') {
      for (const y of await dirs(join(root, 'events'), /^\d{4}$/)) {
        for (const m of await dirs(join(root, 'events', y), /^\d{2}$/)) {
          for (const d of await dirs(join(root, 'events', y, m), /^\d{2}$/)) {
            yield* filesIn(join(root, 'events', y, m, d), tenant, 'run')
          }
        }
      }
    }
  }
}

/** Tenants that have a folder in the data dir; the default tenant always. */
export async function listTenants(dataDir: string): Promise<TenantId[]> {
  const others = (await dirs(join(dataDir, 'tenants'), /./)).filter(isTenantId).filter((t) => t !== DEFAULT_TENANT)
  return [DEFAULT_TENANT, ...others]
}

async function* filesIn(dir: string, tenant: TenantId, kind: 'run' | 'control'): AsyncIterable<StreamInfo> {
  let names: string[]
  try {
    names = (await readdir(dir)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  for (const name of names) {
    if (!name.endsWith('.jsonl.gz')) continue
    const stream = name.slice(0, -'.jsonl.gz'.length)
    if (!isStreamId(stream) || streamKind(stream) !== kind) continue
    const s = statSync(join(dir, name), { throwIfNoEntry: false })
    if (s) yield { tenant, stream, token: `${s.size}:${Math.floor(s.mtimeMs)}` }
  }
}

async function dirs(path: string, pattern: RegExp): Promise<string[]> {
  try {
    const entries = await readdir(path, { withFileTypes: true })
    return entries
      .filter((e) => e.isDirectory() && pattern.test(e.name))
      .map((e) => e.name)
      .sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}
