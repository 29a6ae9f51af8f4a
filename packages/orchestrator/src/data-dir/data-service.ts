import { performance } from 'node:perf_hooks'
import type { BlobStore, EventLog, Projector, StreamFolder } from '@shiioo/core'
import { ShiiooError, verifyDataDir } from '@shiioo/core'
import type { Door } from '../audit/door.js'
import type { CallerContext } from '../caller.js'
import type { IndexRebuildProgressView, IndexRebuildView, VerifyProgressView, VerifyReportView } from '../views/data.js'

/** What the app offers for maintenance that needs the data dir to itself (it knows the adapters). */
export interface DataDirPort {
  /** Throws CONFLICT, naming them, while other processes have the data dir open (the server, a `shiioo run`). */
  assertExclusive(): void
  /** Discards the index's storage, whatever state it is in (a damaged file too): the index is empty on its next use. */
  discardIndex(): Promise<void>
  /** Folds streams on another thread during a rebuild; closed after it. */
  openFolder?(): StreamFolder
}

export interface MaintenanceOptions<P> {
  onProgress?: (progress: P) => void
  signal?: AbortSignal
}

/** The data dir as a whole: checking it, and rebuilding the index from the streams. */
export interface DataService {
  /** Reads every stream and blob, checking every record and hash; a bad record is reported, not thrown. */
  verify(caller: CallerContext, options?: MaintenanceOptions<VerifyProgressView>): Promise<VerifyReportView>
  /**
   * Deletes the index and rebuilds it from the streams. Refuses (CONFLICT) while another process
   * has the data dir open: the rebuild reads stream files whole, so no one may append meanwhile.
   */
  rebuildIndex(caller: CallerContext, options?: MaintenanceOptions<IndexRebuildProgressView>): Promise<IndexRebuildView>
}

export interface DataServiceDeps {
  log: EventLog
  blobs: BlobStore
  projector: Projector | undefined
  dataDir: DataDirPort | undefined
  door: Door
}

export function createDataService(deps: DataServiceDeps): DataService {
  const { log, blobs, door } = deps
  return {
    async verify(caller, options = {}) {
      door.admit(caller, 'data.verify', { kind: 'data-dir' })
      return verifyDataDir({
        log,
        blobs,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      })
    },

    rebuildIndex: (caller, options = {}) =>
      door.change(caller, 'index.rebuild', { kind: 'data-dir' }, () => rebuild(options), {
        result: (r) => ({ streams: r.streams, events: r.events, runs: r.runs, failed: r.failed.length }),
      }),
  }

  async function rebuild(options: MaintenanceOptions<IndexRebuildProgressView>): Promise<IndexRebuildView> {
    const { projector, dataDir } = deps
    if (!projector || !dataDir) {
      throw new ShiiooError('UNAVAILABLE', 'this process cannot rebuild the index: it was composed without one', {
        retryable: false,
      })
    }
    dataDir.assertExclusive()
    // the streams are the truth: whatever the index holds (or however damaged it is) is disposable
    await dataDir.discardIndex()
    const folder = dataDir.openFolder?.()
    const started = performance.now()
    try {
      const { onProgress } = options
      const result = await projector.rebuild({
        ...(folder ? { folder } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(onProgress
          ? {
              onProgress: (p) =>
                onProgress({ streams: p.done, totalStreams: p.counting ? null : p.total, events: p.events }),
            }
          : {}),
      })
      return {
        streams: result.streams,
        events: result.events,
        runs: result.runs,
        failed: result.failed.map((f) => ({ tenant: f.tenant, stream: f.stream, message: f.message })),
        seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      }
    } finally {
      await folder?.close()
    }
  }
}
