import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Clock, RunId, StoredEvent } from '@shiioo/core'
import { DEFAULT_TENANT, FsBlobStore, openFsEventLog } from '@shiioo/core'
import type { EngineOptions, WorkflowSpec } from '../../src/index.js'
import { Engine, assertValidWorkflow } from '../../src/index.js'

export interface Harness {
  dir: string
  engine: Engine
  log: ReturnType<typeof openFsEventLog>
  blobs: FsBlobStore
  events(runId: RunId): Promise<StoredEvent[]>
  /** Reopens the engine on the same data dir (after close), as a restart would. */
  restart(options?: Partial<EngineOptions>): Promise<void>
  close(): Promise<void>
}

export async function openHarness(
  options: Partial<EngineOptions> & { clock?: Clock; lockIdleMs?: number } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'shiioo-engine-'))
  const h = {} as Harness
  h.dir = dir
  const open = (extra: Partial<EngineOptions>) => {
    h.log = openFsEventLog({ dataDir: dir, ...(options.lockIdleMs ? { lockIdleMs: options.lockIdleMs } : {}) })
    h.blobs = new FsBlobStore({ dataDir: dir })
    h.engine = new Engine({ log: h.log, blobs: h.blobs, ...options, ...extra })
  }
  open({})
  h.events = (runId) => h.log.read({ tenant: DEFAULT_TENANT, stream: runId })
  h.restart = async (extra = {}) => {
    await h.engine.close()
    await h.log.close()
    open(extra)
  }
  h.close = async () => {
    await h.engine.close()
    await h.log.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return h
}

export function workflow(spec: WorkflowSpec) {
  return assertValidWorkflow(spec).workflow
}

export function types(events: readonly StoredEvent[]): string[] {
  return events.map((e) => {
    const d = e.data as { stepId?: string; item?: number }
    return d.stepId === undefined ? e.type : `${e.type}:${d.stepId}${d.item === undefined ? '' : `[${d.item}]`}`
  })
}
