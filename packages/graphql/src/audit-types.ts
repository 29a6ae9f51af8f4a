import type { AuditEntryView, AuditPageView, AuditVerifyView } from '@shiioo/orchestrator'
import type { Builder } from './builder.js'
import type { EventTypes } from './event-types.js'

/** The audit chain's entries as stored and hashed, and what a check of the chain found. */
export function auditTypes(builder: Builder, events: EventTypes) {
  const AuditEntry = builder.objectRef<AuditEntryView>('AuditEntry').implement({
    description: 'One entry of the tenant audit chain; `hash` is the sha256 of the canonical JSON of the other fields.',
    fields: (t) => ({
      seq: t.exposeInt('seq'),
      at: t.exposeString('at'),
      tenant: t.exposeString('tenant'),
      actor: t.expose('actor', { type: events.Actor }),
      action: t.exposeString('action'),
      subjectKind: t.string({ resolve: (e) => e.subject.kind }),
      subjectId: t.string({ nullable: true, resolve: (e) => e.subject.id }),
      outcome: t.string({ description: 'ok, denied or error', resolve: (e) => e.outcome.status }),
      outcomeCode: t.string({ nullable: true, resolve: (e) => (e.outcome.status === 'ok' ? null : e.outcome.code) }),
      outcomeMessage: t.string({
        nullable: true,
        resolve: (e) => (e.outcome.status === 'ok' ? null : e.outcome.message),
      }),
      details: t.expose('details', { type: 'JSON' }),
      prevHash: t.exposeString('prevHash'),
      hash: t.exposeString('hash'),
      entry: t.field({ type: 'JSON', description: 'The entry exactly as hashed.', resolve: (e) => e }),
    }),
  })
  const AuditPage = builder.objectRef<AuditPageView>('AuditPage').implement({
    fields: (t) => ({
      items: t.expose('items', { type: [AuditEntry] }),
      nextBefore: t.exposeInt('nextBefore', { nullable: true }),
    }),
  })
  const AuditVerify = builder.objectRef<AuditVerifyView>('AuditVerify').implement({
    fields: (t) => ({
      tenant: t.exposeString('tenant'),
      ok: t.exposeBoolean('ok'),
      entries: t.exposeInt('entries'),
      headSeq: t.int({ nullable: true, resolve: (v) => v.head?.seq ?? null }),
      headHash: t.string({ nullable: true, resolve: (v) => v.head?.hash ?? null }),
      firstBadSeq: t.int({ nullable: true, resolve: (v) => v.firstBad?.seq ?? null }),
      firstBadMessage: t.string({ nullable: true, resolve: (v) => v.firstBad?.message ?? null }),
    }),
  })
  return { AuditEntry, AuditPage, AuditVerify }
}

export type AuditTypes = ReturnType<typeof auditTypes>
