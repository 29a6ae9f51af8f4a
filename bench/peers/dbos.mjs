// DBOS Transact (TypeScript) on a local PostgreSQL with fsync and synchronous_commit on: each step's output is
// committed to the system database before the next step starts.
import { importPeer, mark, measure, peerVersion } from './workload.mjs'

export async function run(opts = {}) {
  const url = new URL(opts.databaseUrl ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:54329/app')
  url.pathname = `/dbos_bench_${process.pid}_${Date.now()}` // a fresh system database, created by DBOS.launch
  const { DBOS } = await importPeer('@dbos-inc/dbos-sdk')
  DBOS.setConfig({ name: 'shiioo-bench', systemDatabaseUrl: url.href, logLevel: 'error' })
  const workflow = DBOS.registerWorkflow(
    async (steps) => {
      for (let i = 0; i < steps; i++) {
        await DBOS.runStep(async () => (mark(), { i }), { name: `step${i}` })
      }
      return steps
    },
    { name: 'noop' },
  )
  await DBOS.launch()
  try {
    const result = await measure((steps) => workflow(steps), opts)
    return {
      peer: 'dbos',
      version: peerVersion('@dbos-inc/dbos-sdk'),
      setting: 'postgres, synchronous_commit=on',
      ...result,
    }
  } finally {
    await DBOS.shutdown()
  }
}
