import { parentPort, workerData } from 'node:worker_threads'
import type { FoldTask } from '../projection/stream-folder.js'
import { foldStreams } from '../projection/stream-folder.js'
import { openFsEventLog } from './fs-event-log.js'

// A worker of createParallelFolder: reads and folds the streams it is sent, from its own
// read-only view of the data dir, and posts the summaries back.
const log = openFsEventLog({ dataDir: (workerData as { dataDir: string }).dataDir })
parentPort!.on('message', (msg: { id: number; tasks: FoldTask[] }) => {
  void foldStreams(log, msg.tasks).then((outcome) => parentPort!.postMessage({ id: msg.id, outcome }))
})
