// Mastra workflows on a LibSQL file database. Mastra persists the run's snapshot after every step (about two commits a
// step) and awaits it before the next step. Two settings: Mastra's default (WAL, and its workflow store sets
// synchronous=NORMAL, so a commit is not fsynced) and a durable one where that `PRAGMA synchronous = NORMAL` becomes
// FULL (the default for every other connection too), so every snapshot commit is fsynced before the next step starts.
import { join } from 'node:path'
import { removeDir, tempDir } from '../lib.mjs'
import { importPeer, mark, measure, peerVersion } from './workload.mjs'

async function runSetting(durable, opts) {
  const { Mastra } = await importPeer('@mastra/core')
  const { createWorkflow, createStep } = await importPeer('@mastra/core/workflows')
  const { LibSQLStore } = await importPeer('@mastra/libsql')
  const { createClient } = await importPeer('@libsql/client')
  const { z } = await importPeer('zod')
  const dir = tempDir('mastra')
  const url = `file:${join(dir, 'mastra.db')}`
  const storage = durable
    ? new LibSQLStore({ id: 'bench', client: fullSync(createClient({ url, timeout: 5000 })) })
    : new LibSQLStore({ id: 'bench', url })
  const io = z.object({ i: z.number() })
  const linear = (id, steps) => {
    let wf = createWorkflow({ id, inputSchema: io, outputSchema: io })
    for (let i = 0; i < steps; i++) {
      wf = wf.then(
        createStep({ id: `step${i}`, inputSchema: io, outputSchema: io, execute: async () => (mark(), { i }) }),
      )
    }
    return wf.commit()
  }
  const lengths = [opts.sequential?.steps ?? 10, opts.concurrent?.steps ?? 3]
  const wfs = Object.fromEntries(lengths.map((n) => [`linear${n}`, linear(`linear${n}`, n)]))
  const mastra = new Mastra({ workflows: wfs, storage, logger: false })
  await storage.init()
  try {
    const result = await measure(async (steps) => {
      const wf = mastra.getWorkflow(`linear${steps}`)
      const run = await (wf.createRunAsync ? wf.createRunAsync() : wf.createRun())
      const res = await run.start({ inputData: { i: -1 } })
      if (res.status !== 'success') throw new Error(`mastra run ${res.status}: ${res.error?.message ?? ''}`)
    }, opts)
    const setting = durable ? 'libsql file, WAL, synchronous=FULL' : 'libsql file, default (WAL, synchronous=NORMAL)'
    return { peer: 'mastra', version: peerVersion('@mastra/core'), setting, ...result }
  } finally {
    await mastra.shutdown?.()
    storage.client?.close?.()
    removeDir(dir)
  }
}

/** A libsql client whose `PRAGMA synchronous = NORMAL` statements become FULL (new connections default to FULL). */
function fullSync(client) {
  const fix = (s) =>
    typeof s === 'string' && /^\s*PRAGMA\s+synchronous\s*=/i.test(s) ? 'PRAGMA synchronous = FULL' : s
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'execute') return (stmt, ...rest) => target.execute(fix(stmt), ...rest)
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** opts.settings: which of 'default' and 'durable' to run (both by default). */
export async function run(opts = {}) {
  const results = []
  for (const s of opts.settings ?? ['default', 'durable']) results.push(await runSetting(s === 'durable', opts))
  return results
}
