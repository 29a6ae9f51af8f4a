// LangGraph.js with the SqliteSaver checkpointer on a file. Each node is a step; with durability 'sync' the checkpoint
// after each superstep is committed before the next node starts. SqliteSaver turns on WAL, and better-sqlite3 is built
// with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so by default a commit is not fsynced; the durable setting sets
// synchronous=FULL on the saver's connection, so every checkpoint is fsynced before the next step starts.
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { removeDir, tempDir } from '../lib.mjs'
import { importPeer, mark, measure, peerVersion } from './workload.mjs'

async function runSetting(durable, opts) {
  const { StateGraph, Annotation, START, END } = await importPeer('@langchain/langgraph')
  const { SqliteSaver } = await importPeer('@langchain/langgraph-checkpoint-sqlite')
  const dir = tempDir('langgraph')
  const saver = SqliteSaver.fromConnString(join(dir, 'checkpoints.db'))
  if (durable) saver.db.pragma('synchronous = FULL')
  const State = Annotation.Root({ i: Annotation() })
  const graphs = new Map()
  const graph = (steps) => {
    if (!graphs.has(steps)) {
      const g = new StateGraph(State)
      for (let i = 0; i < steps; i++) g.addNode(`step${i}`, async () => (mark(), { i }))
      g.addEdge(START, 'step0')
      for (let i = 1; i < steps; i++) g.addEdge(`step${i - 1}`, `step${i}`)
      g.addEdge(`step${steps - 1}`, END)
      graphs.set(steps, g.compile({ checkpointer: saver }))
    }
    return graphs.get(steps)
  }
  try {
    const result = await measure(async (steps) => {
      const out = await graph(steps).invoke(
        { i: -1 },
        { configurable: { thread_id: randomUUID() }, durability: 'sync' },
      )
      if (out.i !== steps - 1) throw new Error(`langgraph run ended with i=${out.i}`)
    }, opts)
    const sync = durable ? 'synchronous=FULL' : 'default (synchronous=NORMAL)'
    const setting = `SqliteSaver file, WAL, ${sync}, durability sync`
    return { peer: 'langgraph', version: peerVersion('@langchain/langgraph'), setting, ...result }
  } finally {
    saver.db.close()
    removeDir(dir)
  }
}

/** opts.settings: which of 'default' and 'durable' to run (both by default). */
export async function run(opts = {}) {
  const results = []
  for (const s of opts.settings ?? ['default', 'durable']) results.push(await runSetting(s === 'durable', opts))
  return results
}
