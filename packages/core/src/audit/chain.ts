import type { StoredEvent } from '../events/envelope.js'
import type { AuditEntry } from './entry.js'
import { GENESIS_HASH, hashAuditEntry } from './entry.js'

/** The last entry of a chain: what an anchor records and the next entry links to. */
export interface AuditHead {
  seq: number
  hash: string
}

/** The first entry that breaks the chain, and how. */
export interface AuditBreak {
  seq: number
  message: string
}

export interface AuditChainCheck {
  /** Entries read (up to the first break, when there is one). */
  entries: AuditEntry[]
  /** The last entry that links to every entry before it; null for an empty chain or a break at seq 1. */
  head: AuditHead | null
  problem: AuditBreak | null
}

/**
 * Checks a tenant's audit stream, in order: each event is an `audit.recorded` entry whose seq and
 * tenant are the event's, whose `hash` is the hash of the rest of it (an edited entry fails here),
 * and whose `prevHash` is the previous entry's hash, the genesis value for seq 1 (entries moved,
 * dropped or inserted fail here). Stops at the first break and names its seq. What it cannot see
 * from the chain alone, the last entries deleted, is for the log's recovery points and the
 * anchor (see docs/audit.md).
 */
export function checkAuditChain(events: readonly StoredEvent[]): AuditChainCheck {
  const entries: AuditEntry[] = []
  let head: AuditHead | null = null
  const fail = (seq: number, message: string): AuditChainCheck => ({ entries, head, problem: { seq, message } })
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    const seq = i + 1
    if (e.type !== 'audit.recorded') return fail(e.seq, `event ${e.seq} is a ${e.type}, not an audit entry`)
    const entry = e.data
    if (e.seq !== seq || entry.seq !== seq) {
      return fail(seq, `entry ${seq} is out of place: the event has seq ${e.seq}, the entry seq ${entry.seq}`)
    }
    if (entry.tenant !== e.tenant) {
      return fail(seq, `entry ${seq} names tenant ${entry.tenant} but is in tenant ${e.tenant}'s chain`)
    }
    const expected = head?.hash ?? GENESIS_HASH
    if (entry.prevHash !== expected) {
      return fail(
        seq,
        `entry ${seq} does not link to ${seq === 1 ? 'the genesis value' : `entry ${seq - 1}`}: its prevHash is ${entry.prevHash}, expected ${expected} (an entry was moved, removed or inserted)`,
      )
    }
    const actual = hashAuditEntry(entry)
    if (entry.hash !== actual) {
      return fail(seq, `entry ${seq} was altered: it hashes to ${actual}, not to its recorded hash ${entry.hash}`)
    }
    entries.push(entry)
    head = { seq, hash: entry.hash }
  }
  return { entries, head, problem: null }
}
