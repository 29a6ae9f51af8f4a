import type { BlobStore, ControlProjection, EventLog, IdFactory, StoredEvent, StreamId, TenantId } from '@shiioo/core'
import { ShiiooError, newEvent, toShiiooError } from '@shiioo/core'
import type { CompiledWorkflow } from '../compile.js'
import { compileWorkflow } from '../compile.js'
import { canonicalDefinitionText, hashNormalized } from '../hash.js'
import type { WorkflowDefinition } from '../schema.js'
import { workflowSchema } from '../schema.js'
import { ENGINE_ACTOR } from './host.js'

const WORKFLOWS = 'workflows' as StreamId

/** The one fold of the `workflows` stream: every registered name with its versions' hashes, oldest first. */
export function foldWorkflowVersions(events: readonly StoredEvent[]): Map<string, string[]> {
  const versions = new Map<string, string[]>()
  for (const e of events) {
    if (e.type !== 'workflow.registered') continue
    const list = versions.get(e.data.name) ?? []
    list.push(e.data.hash)
    versions.set(e.data.name, list)
  }
  return versions
}

/** The workflows' read model in the index: a row per name with its registrations, oldest first. */
export const workflowsProjection: ControlProjection<Map<string, string[]>> = {
  name: 'workflows',
  accepts: (stream) => stream === WORKFLOWS,
  fold: foldWorkflowVersions,
  rows: (versions) => [...versions].map(([name, hashes]) => ({ key: name, data: { name, hashes } })),
}

/**
 * Workflow definitions by hash (each stored as a blob whose key is its hash, so a run's
 * `run.started` pins exactly what it runs) and by name (the `workflows` control stream records
 * which version of a name is current, for sub-workflow steps).
 */
export class DefinitionStore {
  private readonly compiled = new Map<string, CompiledWorkflow>()
  /** Hashes of definition objects already hashed, and blobs known stored: starts stay cheap. */
  private readonly hashes = new WeakMap<WorkflowDefinition, string>()
  private readonly stored = new Set<string>()
  private readonly storing = new Map<string, Promise<void>>()
  private readonly loading = new Map<string, Promise<CompiledWorkflow>>()

  constructor(
    private readonly blobs: BlobStore,
    private readonly log: EventLog,
    private readonly ids: IdFactory,
    private readonly now: () => number,
  ) {}

  /** Stores a validated definition; returns its hash (the blob key). */
  async put(tenant: TenantId, definition: WorkflowDefinition): Promise<string> {
    let hash = this.hashes.get(definition)
    if (hash !== undefined && this.stored.has(`${tenant}/${hash}`)) return hash
    hash = hashNormalized(definition)
    this.hashes.set(definition, hash)
    const key = `${tenant}/${hash}`
    let storing = this.storing.get(key)
    if (!storing) {
      // concurrent starts of one new definition store it once
      storing = this.blobs
        .put({ tenant, data: Buffer.from(canonicalDefinitionText(definition)) })
        .then((stored) => {
          if (stored.key !== hash)
            throw new ShiiooError('INTERNAL', `definition blob ${stored.key} is not its hash ${hash}`)
          this.stored.add(key)
        })
        .finally(() => this.storing.delete(key))
      this.storing.set(key, storing)
    }
    await storing
    return hash
  }

  async get(tenant: TenantId, hash: string): Promise<CompiledWorkflow> {
    const cached = this.compiled.get(`${tenant}/${hash}`)
    if (cached) return cached
    const key = `${tenant}/${hash}`
    let loading = this.loading.get(key)
    if (!loading) {
      // concurrent runs of one definition read and compile it once
      loading = this.load(tenant, hash).finally(() => this.loading.delete(key))
      this.loading.set(key, loading)
    }
    return loading
  }

  private async load(tenant: TenantId, hash: string): Promise<CompiledWorkflow> {
    let bytes: Uint8Array
    try {
      bytes = await this.blobs.get({ tenant, key: hash })
    } catch (error) {
      const e = toShiiooError(error)
      if (e.code === 'NOT_FOUND') {
        throw new ShiiooError('NOT_FOUND', `workflow definition ${hash} is not stored`, { cause: error })
      }
      if (e.code === 'DATA_CORRUPTED') {
        // present, but not what was stored: never run a definition other than the one the run pinned
        throw new ShiiooError('DATA_CORRUPTED', `workflow definition ${hash} is damaged: ${e.message}`, {
          cause: error,
          details: { damagedDefinition: hash, reason: e.message },
        })
      }
      throw e
    }
    const parsed = workflowSchema.safeParse(JSON.parse(Buffer.from(bytes).toString('utf8')))
    if (!parsed.success) throw new ShiiooError('DATA_CORRUPTED', `workflow definition ${hash} no longer validates`)
    const compiled = compileWorkflow(parsed.data)
    this.compiled.set(`${tenant}/${hash}`, compiled)
    return compiled
  }

  /** Makes `definition` the current version of its name (a no-op when it already is). */
  async register(tenant: TenantId, definition: WorkflowDefinition): Promise<{ hash: string; changed: boolean }> {
    const hash = await this.put(tenant, definition)
    for (let tries = 0; ; tries++) {
      const { versions, version } = await this.versions(tenant)
      if (versions.get(definition.name)?.at(-1) === hash) return { hash, changed: false }
      const event = newEvent(
        'workflow.registered',
        { name: definition.name, hash },
        { id: this.ids.eventId(), at: new Date(this.now()), actor: ENGINE_ACTOR },
      )
      try {
        await this.log.append({ tenant, stream: WORKFLOWS, expectedVersion: version, events: [event] })
        return { hash, changed: true }
      } catch (error) {
        if ((error as ShiiooError).code !== 'CONFLICT' || tries > 5) throw error
      }
    }
  }

  /** The current definition of a name, or a pinned version of it. */
  async resolve(tenant: TenantId, name: string, hash?: string): Promise<CompiledWorkflow> {
    const { versions } = await this.versions(tenant)
    const known = versions.get(name)
    if (!known || known.length === 0) {
      const names = [...versions.keys()].sort()
      throw new ShiiooError(
        'NOT_FOUND',
        `no workflow named "${name}" is registered${names.length ? `; registered: ${names.join(', ')}` : ''}`,
      )
    }
    if (hash !== undefined && !known.includes(hash)) {
      throw new ShiiooError('NOT_FOUND', `workflow "${name}" has no version ${hash}`)
    }
    return this.get(tenant, hash ?? known.at(-1)!)
  }

  /** Every registered name with its versions, oldest first. */
  async versions(tenant: TenantId): Promise<{ versions: Map<string, string[]>; version: number }> {
    const events = await this.log.read({ tenant, stream: WORKFLOWS })
    return { versions: foldWorkflowVersions(events), version: events.at(-1)?.seq ?? 0 }
  }
}
