import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { ShiiooError } from '../errors.js'
import type { FoldOutcome, FoldTask, StreamFolder } from '../projection/stream-folder.js'
import { foldWith } from '../projection/stream-folder.js'
import { streamPath } from './paths.js'
import type { StreamId, TenantId } from '../ids.js'
import type { DecodedLines } from './stream-file.js'
import { decodeStreamBytes, pastPointProblem, pointProblem, readStreamFile } from './stream-file.js'
import { RecoveryPoints } from './recovery-points.js'

/**
 * Reads each task's stream file whole and folds it. The thread's own reader: whole files, as
 * another process would see them, so only for a log that no one appends to meanwhile. Each file is
 * checked against its recovery point as the log's reads check it (ADR 0011).
 */
export function foldFiles(
  dataDir: string,
  tasks: readonly FoldTask[],
  scratch: Buffer,
  points: RecoveryPoints,
): Promise<FoldOutcome> {
  return foldWith((t) => {
    const path = streamPath(dataDir, t.tenant, t.stream)
    const buf = readStreamFile(path, scratch)
    // decoded at once: the bytes live in the scratch buffer until the next read
    if (buf === null) return []
    const where = { tenant: t.tenant, stream: t.stream, path }
    const decoded = decodeStreamBytes(buf, where, { prevVersion: 0, fromSeq: t.fromSeq, trustData: true })
    const point = points.get(t.tenant, t.stream)
    if (point !== null && (buf.length !== point.end || decoded.tornTail !== null))
      check(decoded, buf.length, where, points)
    return decoded.events
  }, tasks)
}

function check(
  decoded: DecodedLines,
  fileBytes: number,
  where: { tenant: TenantId; stream: StreamId; path: string },
  points: RecoveryPoints,
): void {
  // a stream with a lock file may have a writer (the log's reads ask whether it is alive)
  const writer = existsSync(`${where.path}.lock`)
  if (!writer) points.refresh()
  const point = points.get(where.tenant, where.stream)!
  const problem = pointProblem(decoded, fileBytes, 0, point, where)
  if (problem) throw problem
  if (!writer && decoded.end > point.end) throw pastPointProblem(decoded.end, point, where)
}

/** Room for one stream file read whole (bigger files are read into their own buffer). */
export const SCRATCH_BYTES = 256 * 1024

export interface FsStreamFolderOptions {
  dataDir: string
}

interface Slot {
  worker: Worker
  pending: Map<number, { resolve: (o: FoldOutcome) => void; reject: (e: unknown) => void }>
}

/**
 * A StreamFolder on a worker thread, for `Projector.rebuild`. The worker is the compiled
 * `dist/fs/fold-worker.js` (found from sources too); without it (no build yet) it folds on the
 * calling thread, which is correct, only not parallel.
 */
export function createFsStreamFolder(options: FsStreamFolderOptions): StreamFolder {
  // from src/fs or dist/fs alike, the compiled worker sits at dist/fs
  const file = new URL('../../dist/fs/fold-worker.js', import.meta.url)
  if (!existsSync(fileURLToPath(file))) {
    const scratch = Buffer.allocUnsafe(SCRATCH_BYTES)
    const points = new RecoveryPoints(options.dataDir)
    return { fold: (tasks) => foldFiles(options.dataDir, tasks, scratch, points), close: () => Promise.resolve() }
  }
  let nextId = 0
  let closed = false
  const start = (): Slot => {
    // the parent's flags, less those that only make sense for its entry (`node --input-type=module -e`)
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'))
    const slot: Slot = {
      worker: new Worker(file, { workerData: { dataDir: options.dataDir }, execArgv }),
      pending: new Map(),
    }
    const failAll = (message: string) => {
      if (current === slot) current = null
      for (const p of slot.pending.values()) p.reject(new ShiiooError('INTERNAL', `stream folder worker: ${message}`))
      slot.pending.clear()
    }
    slot.worker.on('message', (m: { id: number; outcome: FoldOutcome | null; error: string | null }) => {
      const p = slot.pending.get(m.id)
      slot.pending.delete(m.id)
      if (m.outcome !== null) p?.resolve(m.outcome)
      else p?.reject(new ShiiooError('INTERNAL', `stream folder worker: ${m.error ?? 'no outcome'}`))
      if (slot.pending.size === 0) slot.worker.unref() // an idle folder does not keep the process alive
    })
    slot.worker.on('error', (err) => failAll(err.message))
    slot.worker.on('exit', (code) => failAll(`stopped (exit code ${code}) before it answered`))
    slot.worker.unref()
    return slot
  }
  let current: Slot | null = start() // its module loads while the caller lists the streams
  return {
    fold(tasks) {
      return new Promise((resolve, reject) => {
        if (closed) throw new ShiiooError('UNAVAILABLE', 'the stream folder is closed')
        const slot = (current ??= start())
        slot.worker.ref()
        const id = nextId++
        slot.pending.set(id, { resolve, reject })
        slot.worker.postMessage({ id, tasks })
      })
    },
    async close() {
      closed = true
      const slot = current
      current = null
      if (slot) await slot.worker.terminate()
    },
  }
}
