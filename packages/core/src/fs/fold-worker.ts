import { parentPort, workerData } from 'node:worker_threads'
import type { FoldOutcome, FoldTask } from '../projection/stream-folder.js'
import { SCRATCH_BYTES, foldFiles } from './fs-stream-folder.js'
import { RecoveryPoints } from './recovery-points.js'

// The thread behind createFsStreamFolder: reads and folds the stream files it is sent, as any
// other reader of the data dir would, and posts the outcome back.
const { dataDir } = workerData as { dataDir: string }
const port = parentPort!
const scratch = Buffer.allocUnsafe(SCRATCH_BYTES)
const points = new RecoveryPoints(dataDir)
port.on('message', (m: { id: number; tasks: FoldTask[] }) => {
  foldFiles(dataDir, m.tasks, scratch, points).then(
    (outcome: FoldOutcome) => port.postMessage({ id: m.id, outcome, error: null }),
    (err: unknown) =>
      port.postMessage({ id: m.id, outcome: null, error: err instanceof Error ? err.message : String(err) }),
  )
})
