// Child process of the feed benchmark: another process on the same data dir (as `shiioo decide` or
// `shiioo signal` from another terminal would be) sends a signal to each waiting run named in the
// file given as its argument, one after another with a pause between, and prints the wall time
// just before each send ("sent <runId> <ms>"). Arguments: data dir, run list file (JSON), pause ms.
import { readFileSync } from 'node:fs'
import { DEFAULT_TENANT, FsBlobStore, openFsEventLog } from '../packages/core/dist/index.js'
import { Engine } from '../packages/engine/dist/index.js'

const [dataDir, listFile, pauseArg] = process.argv.slice(2)
const runs = JSON.parse(readFileSync(listFile, 'utf8'))
// a `shiioo decide` exits right after its append, which releases the stream's lock at once: the
// signaler, which stays, hands it back as soon
const log = openFsEventLog({ dataDir, lockIdleMs: 5 })
const engine = new Engine({ log, blobs: new FsBlobStore({ dataDir }) })
const actor = { kind: 'user', id: 'bench' }
const wallMs = () => performance.timeOrigin + performance.now()
await log.recovered()
for (const { runId, kind } of runs) {
  await new Promise((r) => setTimeout(r, Number(pauseArg)))
  const signal =
    kind === 'approval'
      ? { kind: 'decision', stepId: 'review', decision: 'approve' }
      : { kind: 'event', name: 'go', payload: { ok: true } }
  process.stdout.write(`sent ${runId} ${wallMs()}\n`)
  await engine.signal(DEFAULT_TENANT, runId, signal, actor)
}
await engine.close()
await log.close()
process.stdout.write('done\n')
