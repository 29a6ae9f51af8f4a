import { randomFillSync } from 'node:crypto'
import { ShiiooError } from './errors.js'

/** A string tagged with the kind of thing it identifies, so ids of different kinds never mix. */
export type Brand<T, B extends string> = T & { readonly __brand: B }

export type StreamId = Brand<string, 'StreamId'>
/** A run's id is also the id of its event stream. */
export type RunId = StreamId & { readonly __run: true }
export type EventId = Brand<string, 'EventId'>
export type TenantId = Brand<string, 'TenantId'>

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const ULID_BODY = '[0-9A-HJKMNP-TV-Z]{26}'
export const RUN_ID = new RegExp(`^run_${ULID_BODY}$`)
const EVENT_ID = new RegExp(`^evt_${ULID_BODY}$`)
const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/
const CONTROL_STREAM = /^[a-z][a-z0-9-]{0,62}(\.[a-z0-9][a-z0-9-]{0,62}){0,3}$/

export const DEFAULT_TENANT = 'default' as TenantId

function checkTime(ms: number): void {
  if (!Number.isInteger(ms) || ms < 0 || ms > 2 ** 48 - 1) {
    throw new ShiiooError('INVALID_INPUT', `time ${ms} cannot be encoded in a ULID`)
  }
}

const CROCKFORD_CODES = Buffer.from(CROCKFORD, 'latin1')

/**
 * Monotonic ULID factory: ids minted by one factory sort in the order they were minted, even
 * within one millisecond (the random part is incremented), as the ULID spec describes. `prefix`
 * (e.g. `evt_`) is part of the returned string.
 *
 * An id is written into a byte buffer and decoded once: a flat string. Built by `+=` it would be
 * a rope of 27 pieces that every first regex test or hash of it has to flatten (a copy), and ids
 * are checked on every append.
 */
export function createUlidFactory(now: () => number = Date.now, prefix = ''): () => string {
  let lastTime = -1
  const start = prefix.length
  const out = Buffer.alloc(start + 26)
  out.write(prefix, 'latin1')
  const digits = new Uint8Array(16)
  // random bytes are drawn in bulk: one call to the CSPRNG per 256 ids, not one per id
  const pool = Buffer.allocUnsafe(4096)
  let used = pool.length
  return () => {
    const time = now()
    if (time <= lastTime) {
      // the clock has not moved on (or went back): keep the last time, increment the 80-bit random part, base 32, from the right
      let i = digits.length - 1
      while (i >= 0 && digits[i] === 31) {
        digits[i] = 0
        i--
      }
      if (i < 0) throw new ShiiooError('UNAVAILABLE', 'ULID random part overflowed', { retryable: true })
      digits[i] = digits[i]! + 1
    } else {
      checkTime(time)
      if (used + 16 > pool.length) {
        randomFillSync(pool)
        used = 0
      }
      for (let k = 0; k < 16; k++) digits[k] = pool[used + k]! & 31
      used += 16
      lastTime = time
      let t = time
      for (let i = 9; i >= 0; i--) {
        out[start + i] = CROCKFORD_CODES[t % 32]!
        t = Math.floor(t / 32)
      }
    }
    for (let k = 0; k < 16; k++) out[start + 10 + k] = CROCKFORD_CODES[digits[k]!]!
    return out.toString('latin1')
  }
}

/** Milliseconds since the epoch encoded in a ULID-based id (`run_<ulid>`, `evt_<ulid>`). */
export function idTime(id: string): number {
  const body = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11)
  let t = 0
  for (const ch of body) {
    const d = CROCKFORD.indexOf(ch)
    if (d < 0) throw new ShiiooError('INVALID_INPUT', `id "${id}" has no ULID time`)
    t = t * 32 + d
  }
  return t
}

export interface IdFactory {
  runId(): RunId
  eventId(): EventId
}

export function createIdFactory(now: () => number = Date.now): IdFactory {
  const runUlid = createUlidFactory(now, 'run_')
  const eventUlid = createUlidFactory(now, 'evt_')
  return {
    runId: () => runUlid() as RunId,
    eventId: () => eventUlid() as EventId,
  }
}

export function isRunId(value: string): value is RunId {
  return RUN_ID.test(value)
}

export function isEventId(value: string): value is EventId {
  return EVENT_ID.test(value)
}

export function isTenantId(value: string): value is TenantId {
  return TENANT_ID.test(value)
}

/** A stream is a run (its run id) or a named control stream such as `config` or `audit`. */
export function isStreamId(value: string): value is StreamId {
  return RUN_ID.test(value) || CONTROL_STREAM.test(value)
}

function parseId<T extends string>(value: string, field: string, valid: (v: string) => v is T, what: string): T {
  if (!valid(value)) {
    throw new ShiiooError('INVALID_INPUT', `${field} "${clip(value)}" is not ${what}`, { details: { field } })
  }
  return value
}

export function parseRunId(value: string, field = 'runId'): RunId {
  return parseId(value, field, isRunId, 'a run id (run_ followed by a 26-character ULID)')
}

export function parseTenantId(value: string, field = 'tenant'): TenantId {
  return parseId(value, field, isTenantId, 'a tenant id (lowercase letters, digits and dashes, at most 63)')
}

export function parseStreamId(value: string, field = 'stream'): StreamId {
  return parseId(value, field, isStreamId, 'a stream id (a run id, or a lowercase control stream name)')
}

export function streamKind(stream: StreamId): 'run' | 'control' {
  return stream.startsWith('run_') ? 'run' : 'control'
}

function clip(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?')
  return printable.length > 80 ? printable.slice(0, 77) + '...' : printable
}
