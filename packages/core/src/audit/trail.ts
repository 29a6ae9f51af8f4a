import type { Actor } from '../events/actor.js'
import { newEvent } from '../events/envelope.js'
import type { Json } from '../events/payload.js'
import { ShiiooError, toShiiooError } from '../errors.js'
import type { EventId, StreamId, TenantId } from '../ids.js'
import { createIdFactory } from '../ids.js'
import type { EventLog } from '../ports/event-log.js'
import type { AuditBreak, AuditHead } from './chain.js'
import { checkAuditChain } from './chain.js'
import type { AuditEntry, AuditOutcome, AuditSubject } from './entry.js'
import { AUDIT_STREAM, GENESIS_HASH, hashAuditEntry } from './entry.js'

/** What a caller records; the trail adds seq, tenant, prevHash and hash. */
export interface AuditDraft {
  at: string
  actor: Actor
  action: string
  subject: AuditSubject
  outcome: AuditOutcome
  details: Record<string, Json>
}

/** What a check of a tenant's chain found: its entries, its head, and the first bad entry if any. */
export interface AuditVerification {
  tenant: TenantId
  entries: number
  head: AuditHead | null
  problem: AuditBreak | null
}

export interface AuditTrailOptions {
  log: EventLog
  /** Event ids (default: ULIDs on the system clock). */
  eventId?: () => EventId
}

/** How often an append that lost the race to another process's entry re-reads the head and tries again. */
const MAX_CONFLICTS = 20

const stream = AUDIT_STREAM as StreamId

/**
 * A tenant's hash-chained audit stream over the event log. Appends take the stream's version as
 * their expected version, so two processes cannot fork the chain: the loser of a race re-reads the
 * head and links to the winner's entry. Appends of one process are serialized per tenant.
 */
export class AuditTrail {
  private readonly log: EventLog
  private readonly eventId: () => EventId
  /** Per tenant: the head this process last saw, and the tail of its queue of appends. */
  private readonly heads = new Map<TenantId, AuditHead | null>()
  private readonly queues = new Map<TenantId, Promise<unknown>>()

  constructor(options: AuditTrailOptions) {
    this.log = options.log
    const ids = createIdFactory()
    this.eventId = options.eventId ?? (() => ids.eventId())
  }

  /** Appends an entry to the tenant's chain; resolves with it once it is durable. */
  record(tenant: TenantId, draft: AuditDraft): Promise<AuditEntry> {
    const previous = this.queues.get(tenant) ?? Promise.resolve()
    const next = previous.catch(() => undefined).then(() => this.append(tenant, draft))
    this.queues.set(tenant, next)
    return next
  }

  /** Resolves once the appends this process has begun for the tenant have ended (whatever their outcome). */
  async settled(tenant: TenantId): Promise<void> {
    await (this.queues.get(tenant) ?? Promise.resolve()).catch(() => undefined)
  }

  /** Every entry of the tenant's chain, in order, as stored (see `verify` for the check). */
  async entries(tenant: TenantId, signal?: AbortSignal): Promise<AuditEntry[]> {
    await this.settled(tenant)
    const events = await this.log.read({ tenant, stream, ...(signal ? { signal } : {}) })
    const out: AuditEntry[] = []
    for (const e of events) {
      if (e.type !== 'audit.recorded') {
        throw new ShiiooError('DATA_CORRUPTED', `the audit stream holds a ${e.type} event at seq ${e.seq}`, {
          details: { seq: e.seq },
        })
      }
      out.push(e.data)
    }
    return out
  }

  /**
   * Checks the tenant's chain: every record the log holds (the log refuses a stream cut short of,
   * or damaged before, its recovery point, naming the seq), then each entry's hash and link.
   */
  async verify(tenant: TenantId, signal?: AbortSignal): Promise<AuditVerification> {
    await this.settled(tenant)
    let events
    try {
      events = await this.log.read({ tenant, stream, ...(signal ? { signal } : {}) })
    } catch (err) {
      const e = toShiiooError(err)
      const seq = e.details.seq
      if (e.code !== 'DATA_CORRUPTED' || typeof seq !== 'number') throw err
      return { tenant, entries: 0, head: null, problem: { seq, message: e.message } }
    }
    const check = checkAuditChain(events)
    return { tenant, entries: check.entries.length, head: check.head, problem: check.problem }
  }

  private async append(tenant: TenantId, draft: AuditDraft): Promise<AuditEntry> {
    const id = this.eventId()
    for (let attempt = 1; ; attempt++) {
      const head = await this.head(tenant)
      const unhashed = {
        seq: (head?.seq ?? 0) + 1,
        at: draft.at,
        tenant,
        actor: draft.actor,
        action: draft.action,
        subject: draft.subject,
        outcome: draft.outcome,
        details: draft.details,
        prevHash: head?.hash ?? GENESIS_HASH,
      }
      const entry: AuditEntry = { ...unhashed, hash: hashAuditEntry(unhashed) }
      try {
        await this.log.append({
          tenant,
          stream,
          expectedVersion: head?.seq ?? 0,
          events: [newEvent('audit.recorded', entry, { id, at: draft.at, actor: draft.actor })],
        })
        this.heads.set(tenant, { seq: entry.seq, hash: entry.hash })
        return entry
      } catch (err) {
        this.heads.delete(tenant)
        // another process appended first: link to its entry instead
        if (toShiiooError(err).code !== 'CONFLICT' || attempt >= MAX_CONFLICTS) throw err
      }
    }
  }

  /** The chain's last entry, read from the log unless this process appended it. */
  private async head(tenant: TenantId): Promise<AuditHead | null> {
    if (this.heads.has(tenant)) return this.heads.get(tenant)!
    const version = await this.log.version({ tenant, stream })
    if (version === 0) return null
    const [last] = await this.log.read({ tenant, stream, fromSeq: version, toSeq: version })
    if (last?.type !== 'audit.recorded') {
      throw new ShiiooError('DATA_CORRUPTED', `the audit stream of tenant ${tenant} has no entry at seq ${version}`, {
        details: { seq: version },
      })
    }
    return { seq: last.seq, hash: last.data.hash }
  }
}
