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
 * processes take turns at. Pure: every function takes the time and mutates only the book. The
 * totals are kept as entries come and go, so admitting a call costs the same with 10 or 100,000
 * calls in the window (the pool's overhead per call is measured in microseconds).
 */
export interface WindowBook {
  v: 1
  /** The last minute's entries (plus slack) from `head` on, oldest first. */
  entries: Entry[]
  /** Entries before it have left the window (dropped from the array now and then). */
  head: number
  /** The requests and tokens of the entries in the window. */
  requests: number
  tokens: number
  /** Tokens per minute bucket [bucket start, tokens], oldest first: the day window. */
  day: [number, number][]
  vendor: { requests?: [limit: number, until: number]; tokens?: [limit: number, until: number] }
  coolUntil: number
}

export function emptyBook(): WindowBook {
  return { v: 1, entries: [], head: 0, requests: 0, tokens: 0, day: [], vendor: {}, coolUntil: 0 }
}

/** A book as read from elsewhere (a file), with its totals recomputed: nothing in it is trusted but its entries. */
export function normalizeBook(raw: unknown): WindowBook {
  const b = raw as Partial<WindowBook> | null
  if (!b || b.v !== 1 || !Array.isArray(b.entries) || !Array.isArray(b.day)) return emptyBook()
  const head = typeof b.head === 'number' && b.head >= 0 ? Math.min(b.head, b.entries.length) : 0
  const entries = b.entries.slice(head)
  return {
    v: 1,
    entries,
    head: 0,
    requests: entries.reduce((n, e) => n + e[2], 0),
    tokens: entries.reduce((n, e) => n + e[3], 0),
    day: b.day,
    vendor: b.vendor ?? {},
    coolUntil: typeof b.coolUntil === 'number' ? b.coolUntil : 0,
  }
}

/** The book with the entries that left the window dropped, ready to be written. */
export function compactBook(book: WindowBook): WindowBook {
  if (book.head > 0) {
    book.entries.splice(0, book.head)
    book.head = 0
  }
  return book
}

function expire(book: WindowBook, now: number, windowMs: number): void {
  const { entries } = book
  while (book.head < entries.length && entries[book.head]![1] + windowMs <= now) {
    const e = entries[book.head]!
    book.requests -= e[2]
    book.tokens -= e[3]
    book.head++
  }
  if (book.head > 1024 && book.head * 2 > entries.length) compactBook(book)
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

/** When `amount` more of field `f` fits under `limit`, the window holding `total` (walked only when over). */
function entriesFreeAt(
  book: WindowBook,
  f: 2 | 3,
  total: number,
  windowMs: number,
  now: number,
  amount: number,
  limit: number,
): number {
  if (total + amount <= limit) return now
  if (amount > limit) return Infinity
  let excess = total + amount - limit
  for (let i = book.head; i < book.entries.length; i++) {
    const e = book.entries[i]!
    excess -= e[f]
    if (excess <= 0) return e[1] + windowMs
  }
  return Infinity
}

function dayFreeAt(book: WindowBook, now: number, amount: number, limit: number): number {
  const total = book.day.reduce((n, d) => n + d[1], 0)
  if (total + amount <= limit) return now
  if (amount > limit) return Infinity
  let excess = total + amount - limit
  for (const [at, a] of book.day) {
    excess -= a
    if (excess <= 0) return at + MINUTE + DAY
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
  if (rpm !== undefined) at = Math.max(at, entriesFreeAt(book, 2, book.requests, windowMs, o.now, 1, rpm))
  if (tpm !== undefined) at = Math.max(at, entriesFreeAt(book, 3, book.tokens, windowMs, o.now, o.tokens, tpm))
  if (o.limits.tokensPerDay !== undefined) at = Math.max(at, dayFreeAt(book, o.now, o.tokens, o.limits.tokensPerDay))
  if (at > o.now) return { ok: false, at }
  insert(book, [o.id, o.now, 1, o.tokens])
  addDay(book, o.now, o.tokens)
  return { ok: true, reservation: { id: o.id, at: o.now, tokens: o.tokens } }
}

/** Adds an entry in time order (at the end, unless a clock of another process is a little behind). */
function insert(book: WindowBook, entry: Entry): void {
  const { entries } = book
  let i = entries.length
  while (i > book.head && entries[i - 1]![1] > entry[1]) i--
  if (i === entries.length) entries.push(entry)
  else entries.splice(i, 0, entry)
  book.requests += entry[2]
  book.tokens += entry[3]
}

function addDay(book: WindowBook, at: number, tokens: number): void {
  const bucket = Math.floor(at / MINUTE) * MINUTE
  const last = book.day.at(-1)
  if (last?.[0] === bucket) {
    last[1] += tokens
    return
  }
  const i = book.day.findIndex((d) => d[0] === bucket)
  if (i >= 0) book.day[i]![1] += tokens
  else {
    book.day.push([bucket, tokens])
    book.day.sort((a, b) => a[0] - b[0])
  }
}

/** The entry of a reservation: found from the back (recent calls settle first), by its time. */
function entryOf(book: WindowBook, r: LedgerReservation): Entry | undefined {
  for (let i = book.entries.length - 1; i >= book.head; i--) {
    const e = book.entries[i]!
    if (e[0] === r.id) return e
    if (e[1] < r.at) return undefined
  }
  return undefined
}

export function settleIn(book: WindowBook, reservation: LedgerReservation, tokens: number): void {
  const e = entryOf(book, reservation)
  if (e) {
    book.tokens += tokens - e[3]
    e[3] = tokens
  }
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
    const ours = what === 'requests' ? book.requests : book.tokens
    const theirs = w.limit - Math.max(0, w.remaining)
    const resetAt = Math.min(w.resetAt, o.now + windowMs)
    if (theirs > ours && resetAt > o.now) {
      const extra = theirs - ours
      insert(book, [`~${id()}`, resetAt - windowMs, what === 'requests' ? extra : 0, what === 'tokens' ? extra : 0])
    }
  }
}

export function usageOf(book: WindowBook, now: number, slackMs: number): LedgerUsage {
  expire(book, now, MINUTE + slackMs)
  const rpm = vendorLimit(book, 'requests', now)
  const tpm = vendorLimit(book, 'tokens', now)
  return {
    requests: book.requests,
    tokens: book.tokens,
    dayTokens: book.day.reduce((n, d) => n + d[1], 0),
    coolUntil: book.coolUntil,
    vendorLimits: {
      ...(rpm === undefined ? {} : { requestsPerMinute: rpm }),
      ...(tpm === undefined ? {} : { tokensPerMinute: tpm }),
    },
  }
}
