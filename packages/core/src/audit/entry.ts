import { createHash } from 'node:crypto'
import { z } from 'zod'
import { ERROR_CODES } from '../errors.js'
import { ACTOR_KINDS } from '../events/actor.js'
import { jsonSchema } from '../events/payload.js'
import { defineEventModule } from '../events/registry.js'
import { canonicalJson } from '../canonical-json.js'

/** The control stream of a tenant that holds its audit chain. */
export const AUDIT_STREAM = 'audit'
/** The `prevHash` of a chain's first entry. */
export const GENESIS_HASH = '0'.repeat(64)

const hash = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex characters')
const message = z.string().max(1000)

/** What a call came to: done, refused at the gate, or failed with an error code. */
export const auditOutcomeSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('ok') }).strict(),
  z.object({ status: z.literal('denied'), code: z.enum(ERROR_CODES), message }).strict(),
  z.object({ status: z.literal('error'), code: z.enum(ERROR_CODES), message }).strict(),
])
export type AuditOutcome = z.infer<typeof auditOutcomeSchema>
export const AUDIT_OUTCOME_STATUSES = ['ok', 'denied', 'error'] as const

/** What a call acted on: a run (`id` the run id), a workflow (`id` its name), the tenant or the data dir (`id` null). */
export const auditSubjectSchema = z
  .object({ kind: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/), id: z.string().min(1).max(200).nullable() })
  .strict()
export type AuditSubject = z.infer<typeof auditSubjectSchema>

const entryFields = {
  seq: z.number().int().positive(),
  at: z.string().datetime(),
  tenant: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  actor: z.object({ kind: z.enum(ACTOR_KINDS), id: z.string().min(1).max(200) }).strict(),
  /** The service action, as the gate names it (`run.start`, `run.decide`, ...). */
  action: z.string().regex(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/),
  subject: auditSubjectSchema,
  outcome: auditOutcomeSchema,
  /** What the call was about beyond its subject (a decision, the run a start made); plain JSON. */
  details: z.record(z.string(), jsonSchema),
  prevHash: hash,
}

/** One audit entry: `hash` is the sha256 of the canonical JSON of every other field. */
export const auditEntrySchema = z.object({ ...entryFields, hash }).strict()
export type AuditEntry = z.infer<typeof auditEntrySchema>
/** An entry before it is hashed. */
export type UnhashedAuditEntry = Omit<AuditEntry, 'hash'>

/** The hash an entry must carry: sha256 (hex) of the canonical JSON of the entry without `hash`. */
export function hashAuditEntry(entry: UnhashedAuditEntry | AuditEntry): string {
  const { hash: _ignored, ...rest } = entry as AuditEntry
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex')
}

/** On each tenant's `audit` control stream: one entry of its hash chain. */
export const auditEvents = defineEventModule({
  name: 'audit',
  events: {
    'audit.recorded': { v: 1, data: auditEntrySchema },
  },
})
