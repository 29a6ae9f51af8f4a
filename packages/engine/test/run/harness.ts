import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Clock, RunId, StoredEvent } from '@shiioo/core'
import { DEFAULT_TENANT, FsBlobStore, openFsEventLog } from '@shiioo/core'
import type { EngineOptions, WorkflowDefinition, WorkflowSpec } from '../../src/index.js'
import { Engine, assertValidWorkflow, parseWorkflow } from '../../src/index.js'

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

/** The definitions in examples/workflows, by file name without `.yaml`. */
export function loadExamples(): Map<string, WorkflowDefinition> {
  const folder = new URL('../../../../examples/workflows/', import.meta.url)
  const examples = new Map<string, WorkflowDefinition>()
  for (const file of readdirSync(folder).filter((f) => f.endsWith('.yaml'))) {
    const parsed = parseWorkflow(readFileSync(new URL(file, folder), 'utf8'))
    if (!parsed.ok) throw new Error(`${file} does not validate`)
    examples.set(file.replace(/\.yaml$/, ''), parsed.workflow)
  }
  return examples
}
