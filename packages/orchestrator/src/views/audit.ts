import type { ActorKind, AuditEntry, ErrorCode, Json } from '@shiioo/core'
import type { Same } from '../same-type.js'

/** What a call came to: done, refused at the gate, or failed with an error code. */
export type AuditOutcomeView =
  | { status: 'ok' }
  | { status: 'denied'; code: ErrorCode; message: string }
  | { status: 'error'; code: ErrorCode; message: string }

/**
 * One entry of a tenant's audit chain, exactly as stored and hashed (`hash` is the sha256 of the
 * canonical JSON of every other field), so whoever receives it, an export to a SIEM included, can
 * check it and its link to the entry before.
 */
export interface AuditEntryView {
  seq: number
  /** ISO-8601 UTC instant. */
  at: string
  tenant: string
  actor: { kind: ActorKind; id: string }
  /** The service action (`run.start`, `run.decide`, ...). */
  action: string
  /** A run (`id` its run id), a workflow (`id` its name), the tenant or the data dir (`id` null). */
  subject: { kind: string; id: string | null }
  outcome: AuditOutcomeView
  details: Record<string, Json>
  prevHash: string
  hash: string
}
const _sameEntry: Same<AuditEntryView, AuditEntry> = true
void _sameEntry

/** A page of entries, newest first; `nextBefore` continues the listing (null when there is no more). */
export interface AuditPageView {
  items: AuditEntryView[]
  nextBefore: number | null
}

/** What a check of a tenant's audit chain found; `firstBad` names the first entry that breaks it. */
export interface AuditVerifyView {
  tenant: string
  ok: boolean
  /** Entries that check out (up to the first bad one). */
  entries: number
  head: { seq: number; hash: string } | null
  firstBad: { seq: number; message: string } | null
}

/** A fresh copy in the stored key order, so `JSON.stringify` prints the entry as it was hashed. */
export function toAuditEntryView(e: AuditEntry): AuditEntryView {
  return {
    seq: e.seq,
    at: e.at,
    tenant: e.tenant,
    actor: { kind: e.actor.kind, id: e.actor.id },
    action: e.action,
    subject: { kind: e.subject.kind, id: e.subject.id },
    outcome: { ...e.outcome },
    details: e.details,
    prevHash: e.prevHash,
    hash: e.hash,
  }
}
