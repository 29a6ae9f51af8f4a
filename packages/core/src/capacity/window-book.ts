import type {
  LedgerLimits,
  LedgerObservation,
  LedgerReservation,
  LedgerReserveResult,
  LedgerUsage,
} from '../ports/capacity-ledger.js'

const MINUTE = 60_000
const DAY = 86_400_000
/** How long a limit the vendor announced is trusted after it last said so. */
const VENDOR_LIMIT_TTL_MS = 10 * MINUTE

/** [id, at, requests, tokens]: a reservation, or what the vendor counted that we had not (id starting with '~'). */
type Entry = [string, number, number, number]

/**
 * One source's windows as plain JSON, so a process can keep it in memory or in a file that
 * processes take turns at. Pure: every function takes the time and mutates only the book.
 */
export interface WindowBook {
  v: 1
  /** The last minute's entries (plus slack), oldest first. */
  entries: Entry[]
  /** Tokens per minute bucket [bucket start, tokens], oldest first: the day window. */
  day: [number, number][]
  vendor: { requests?: [limit: number, until: number]; tokens?: [limit: number, until: number] }
  coolUntil: number
}

export function emptyBook(): WindowBook {
  return { v: 1, entries: [], day: [], vendor: {}, coolUntil: 0 }
}

function expire(book: WindowBook, now: number, windowMs: number): void {
  let i = 0
  while (i < book.entries.length && book.entries[i]![1] + windowMs <= now) i++
  if (i > 0) book.entries.splice(0, i)
  let d = 0
  while (d < book.day.length && book.day[d]![0] + MINUTE + DAY <= now) d++
  if (d > 0) book.day.splice(0, d)
}

function vendorLimit(book: WindowBook, what: 'requests' | 'tokens', now: number): number | undefined {
  const v = book.vendor[what]
  return v && v[1] > now ? v[0] : undefined
}

function min(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b)
}

/** When `amount` more fits under `limit` given amounts that leave at their time plus `span`. */
function freeAt(
  items: readonly (readonly [number, number])[],
  span: number,
  now: number,
  amount: number,
  limit: number,
) {
  let total = 0
  for (const [, a] of items) total += a
  if (total + amount <= limit) return now
  if (amount > limit) return Infinity
  let excess = total + amount - limit
  for (const [at, a] of items) {
    excess -= a
    if (excess <= 0) return at + span
  }
  return Infinity
}

export function reserveIn(
  book: WindowBook,
  o: { now: number; tokens: number; limits: LedgerLimits; slackMs: number; id: string },
): LedgerReserveResult {
  const windowMs = MINUTE + o.slackMs
  expire(book, o.now, windowMs)
  let at = Math.max(o.now, book.coolUntil)
  const rpm = min(o.limits.requestsPerMinute, vendorLimit(book, 'requests', o.now))
  const tpm = min(o.limits.tokensPerMinute, vendorLimit(book, 'tokens', o.now))
  if (rpm !== undefined) {
    const reqs = book.entries.filter((e) => e[2] > 0).map((e) => [e[1], e[2]] as const)
    at = Math.max(at, freeAt(reqs, windowMs, o.now, 1, rpm))
  }
  if (tpm !== undefined) {
    const toks = book.entries.map((e) => [e[1], e[3]] as const)
    at = Math.max(at, freeAt(toks, windowMs, o.now, o.tokens, tpm))
  }
  if (o.limits.tokensPerDay !== undefined)
    at = Math.max(at, freeAt(book.day, MINUTE + DAY, o.now, o.tokens, o.limits.tokensPerDay))
  if (at > o.now) return { ok: false, at }
  book.entries.push([o.id, o.now, 1, o.tokens])
  addDay(book, o.now, o.tokens)
  return { ok: true, reservation: { id: o.id, at: o.now, tokens: o.tokens } }
}

function addDay(book: WindowBook, at: number, tokens: number): void {
  const bucket = Math.floor(at / MINUTE) * MINUTE
  const i = book.day.findIndex((d) => d[0] === bucket)
  if (i >= 0) book.day[i]![1] += tokens
  else {
    book.day.push([bucket, tokens])
    book.day.sort((a, b) => a[0] - b[0])
  }
}

export function settleIn(book: WindowBook, reservation: LedgerReservation, tokens: number): void {
  const e = book.entries.find((x) => x[0] === reservation.id)
  if (e) e[3] = tokens
  const bucket = Math.floor(reservation.at / MINUTE) * MINUTE
  const d = book.day.find((x) => x[0] === bucket)
  if (d) d[1] = Math.max(0, d[1] + tokens - reservation.tokens)
}

/**
 * A vendor's own count wins where it is higher than ours (another client on the same key, a
 * limit lower than configured): the difference is held until the vendor's reset. A count lower
 * than ours changes nothing: calls we reserved may not have reached the vendor yet.
 */
export function observeIn(book: WindowBook, o: LedgerObservation, id: () => string): void {
  const windowMs = MINUTE + o.slackMs
  expire(book, o.now, windowMs)
  if (o.coolUntil !== undefined) book.coolUntil = Math.max(book.coolUntil, o.coolUntil)
  for (const what of ['requests', 'tokens'] as const) {
    const w = o[what]
    if (!w || !(w.limit > 0)) continue
    book.vendor[what] = [w.limit, o.now + VENDOR_LIMIT_TTL_MS]
    const ours = book.entries.reduce((n, e) => n + (what === 'requests' ? e[2] : e[3]), 0)
    const theirs = w.limit - Math.max(0, w.remaining)
    const resetAt = Math.min(w.resetAt, o.now + windowMs)
    if (theirs > ours && resetAt > o.now) {
      const entry: Entry = [
        `~${id()}`,
        resetAt - windowMs,
        what === 'requests' ? theirs - ours : 0,
        what === 'tokens' ? theirs - ours : 0,
      ]
      const at = book.entries.findIndex((e) => e[1] > entry[1])
      book.entries.splice(at < 0 ? book.entries.length : at, 0, entry)
    }
  }
}

export function usageOf(book: WindowBook, now: number, slackMs: number): LedgerUsage {
  expire(book, now, MINUTE + slackMs)
  const rpm = vendorLimit(book, 'requests', now)
  const tpm = vendorLimit(book, 'tokens', now)
  return {
    requests: book.entries.reduce((n, e) => n + e[2], 0),
    tokens: book.entries.reduce((n, e) => n + e[3], 0),
    dayTokens: book.day.reduce((n, d) => n + d[1], 0),
    coolUntil: book.coolUntil,
    vendorLimits: {
      ...(rpm === undefined ? {} : { requestsPerMinute: rpm }),
      ...(tpm === undefined ? {} : { tokensPerMinute: tpm }),
    },
  }
}
