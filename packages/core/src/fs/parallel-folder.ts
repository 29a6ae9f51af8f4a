import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { ShiiooError } from '../errors.js'
import type { FoldOutcome, FoldTask, StreamFolder } from '../projection/stream-folder.js'
import { inProcessFolder, mergeOutcomes } from '../projection/stream-folder.js'
import { openFsEventLog } from './fs-event-log.js'

export interface ParallelFolderOptions {
  dataDir: string
  /** Worker threads; default: one per core. */
  workers?: number
}

interface Slot {
  worker: Worker
  waiting: Map<number, { resolve: (o: FoldOutcome) => void; reject: (e: unknown) => void }>
}

/**
 * Folds streams of the filesystem log on worker threads, so a rebuild reads, inflates, decodes
 * and folds on every core while the main thread writes the index. Falls back to folding in this
 * thread when the compiled worker is not available (e.g. running from TypeScript sources).
 */
export function createParallelFolder(options: ParallelFolderOptions): StreamFolder {
  const workerFile = new URL('./fold-worker.js', import.meta.url)
  const count = Math.max(1, options.workers ?? availableParallelism())
  if (!existsSync(fileURLToPath(workerFile))) return inProcessFolder(openFsEventLog({ dataDir: options.dataDir }))
  let slots: Slot[] | null = null
  let nextId = 0
  const start = (): Slot[] =>
    Array.from({ length: count }, () => {
      const slot: Slot = { worker: new Worker(workerFile, { workerData: { dataDir: options.dataDir } }), waiting: new Map() }
      slot.worker.on('message', (m: { id: number; outcome: FoldOutcome }) => {
        slot.waiting.get(m.id)?.resolve(m.outcome)
        slot.waiting.delete(m.id)
      })
      slot.worker.on('error', (err) => {
        for (const w of slot.waiting.values()) w.reject(new ShiiooError('INTERNAL', `fold worker failed: ${err.message}`))
        slot.waiting.clear()
      })
      return slot
    })
  const send = (slot: Slot, tasks: FoldTask[]) =>
    new Promise<FoldOutcome>((resolve, reject) => {
      const id = nextId++
      slot.waiting.set(id, { resolve, reject })
      slot.worker.postMessage({ id, tasks })
    })
  return {
    async fold(tasks) {
      slots ??= start()
      const active = slots
      const shares: FoldTask[][] = active.map(() => [])
      tasks.forEach((t, i) => shares[i % active.length]!.push(t))
      return mergeOutcomes(await Promise.all(active.map((s, i) => send(s, shares[i]!))))
    },
    async close() {
      if (slots) await Promise.all(slots.map((s) => s.worker.terminate()))
      slots = null
    },
  }
}
