import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FsEventLog, IndexStore, LogContext, Logger } from '@shiioo/core'
import { FsBlobStore, Projector, openFsEventLog } from '@shiioo/core'
import { openSqliteIndex } from '@shiioo/store-sqlite'
import type { CallerContext, EventView, Orchestrator, OrchestratorConfig, WorkflowSource } from '../src/index.js'
import { CONTROL_PROJECTIONS, createOrchestrator } from '../src/index.js'

const EXAMPLES = fileURLToPath(new URL('../../../examples/workflows/', import.meta.url))

export async function example(name: string): Promise<WorkflowSource> {
  return { text: await readFile(join(EXAMPLES, `${name}.yaml`), 'utf8'), format: 'yaml', origin: `${name}.yaml` }
}

export interface Opened {
  orchestrator: Orchestrator
  log: FsEventLog
  blobs: FsBlobStore
  index: IndexStore
  projector: Projector
  close(): Promise<void>
}

/**
 * The real embedded stack (filesystem log and blobs, SQLite index, live projector) on temp dirs a
 * test file owns: `cleanup()` (in afterEach) closes what was opened and removes the dirs.
 */
export function testStacks() {
  const cleanups: Array<() => Promise<void>> = []
  return {
    async tempDir(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), 'shiioo-orchestrator-'))
      cleanups.push(() => rm(dir, { recursive: true, force: true }))
      return dir
    },
    open(dir: string, extra: Partial<OrchestratorConfig> = {}): Opened {
      const log = openFsEventLog({ dataDir: dir })
      const blobs = new FsBlobStore({ dataDir: dir })
      const index = openSqliteIndex({ path: join(dir, 'index.sqlite') })
      const projector = new Projector({ log, index, projections: CONTROL_PROJECTIONS })
      const orchestrator = createOrchestrator({ log, blobs, index, projector, ...extra })
      let closed = false
      const close = async () => {
        if (closed) return
        closed = true
        await orchestrator.close()
        await index.close()
        await log.close()
      }
      cleanups.push(close)
      return { orchestrator, log, blobs, index, projector, close }
    },
    async cleanup(): Promise<void> {
      for (const c of cleanups.splice(0).reverse()) await c()
    },
  }
}

/** Resolves with the first event of the run that `match` accepts (from the whole history on). */
export function eventOf(
  o: Orchestrator,
  caller: CallerContext,
  runId: string,
  match: (e: EventView) => boolean,
): Promise<EventView> {
  return new Promise((resolve) => {
    const follower = o.runs.follow(caller, runId, (events) => {
      const hit = events.find(match)
      if (hit) {
        follower.stop()
        resolve(hit)
      }
    })
  })
}

export const waitsForApproval = (e: EventView) => e.type === 'step.waiting' && e.data.for === 'approval'

/** A logger that keeps every line, for tests that check what a component reported. */
export function recordingLogger(): Logger & { lines: Array<{ level: string; message: string; context: LogContext }> } {
  const lines: Array<{ level: string; message: string; context: LogContext }> = []
  const at =
    (level: string) =>
    (message: string, context: LogContext = {}) =>
      void lines.push({ level, message, context })
  const logger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  }
  return logger
}
