import type { StoredEvent } from '../events/envelope.js'
import type { StreamId, TenantId } from '../ids.js'
import type {
  CommitRequest,
  EventFeed,
  FeedBatch,
  FeedCommit,
  FeedEvent,
  FeedPosition,
  FeedRequest,
  FeedStart,
} from '../ports/feed.js'
import type { FeedMatcher } from './feed-request.js'
import { compileFeedRequest } from './feed-request.js'

/**
 * A place in a feed: past every event before (`at`, `seq`), where `at` orders commits (a byte
 * offset, a sequence number) and `seq` is the stream seq within the commit at `at`. `{ at, seq: 0 }`
 * is just before the commit at `at`, whatever it will hold.
 */
export interface FeedCursor {
  at: number
  seq: number
}

/** A commit as an adapter holds it: where it is, and what it covers. */
export interface SourceCommit {
  at: number
  tenant: TenantId
  stream: StreamId
  firstSeq: number
  lastSeq: number
}

/** What an adapter gives the shared pull loop (see pullEvents). */
export interface FeedSource<C extends SourceCommit> {
  /**
   * Commits past `cursor` (at a greater `at`, or at `cursor.at` with events past `cursor.seq`) in
   * feed order, at most `max`; none when the cursor is at the head. May throw GONE.
   */
  after(cursor: FeedCursor, max: number): readonly C[] | Promise<readonly C[]>
  /**
   * Calls `wake` once commits past `cursor` may exist: at once if they do, else at the next
   * arrival (an adapter keeps the functions to call in a set and calls and clears them all).
   */
  changed(cursor: FeedCursor, wake: () => void): void
  /** The commit's events, `firstSeq` to `lastSeq` (may wait until they are readable). */
  events(commit: C, signal: AbortSignal): readonly StoredEvent[] | Promise<readonly StoredEvent[]>
  position(commit: C, seq: number): FeedPosition
}

/** The commit's place is past the cursor (wholly or in part). */
function pastCursor(c: SourceCommit, cursor: FeedCursor): boolean {
  return c.at > cursor.at || (c.at === cursor.at && c.lastSeq > cursor.seq)
}

/**
 * The pull loop every adapter shares: a batch is read when the consumer asks for the next one,
 * so a slow consumer holds only its cursor. `start` runs on the first `next()` (it resolves and
 * checks the starting position, and may throw); an aborted `signal` ends the iteration. `collect`
 * adds what a matching commit contributes and returns the cursor past what it took.
 */
async function* pull<C extends SourceCommit, T>(
  source: FeedSource<C>,
  start: () => FeedCursor,
  match: FeedMatcher,
  signal: AbortSignal,
  collect: (c: C, cursor: FeedCursor, batch: T[]) => Promise<FeedCursor> | FeedCursor,
): AsyncGenerator<readonly T[]> {
  let cursor = start()
  // one abort listener for the subscription's life, not one per wait (they are slow to add)
  let wake: (() => void) | null = null
  const onAbort = () => wake?.()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    while (!signal.aborted) {
      const commits = await source.after(cursor, match.limit)
      if (commits.length === 0) {
        await new Promise<void>((resolve) => {
          if (signal.aborted) return resolve() // aborted while `after` was read
          wake = resolve
          source.changed(cursor, resolve)
        })
        wake = null
        continue
      }
      const batch: T[] = []
      for (const c of commits) {
        if (!pastCursor(c, cursor)) continue
        cursor = match.commit(c.tenant, c.stream) ? await collect(c, cursor, batch) : { at: c.at, seq: c.lastSeq }
        if (signal.aborted) return
        if (batch.length >= match.limit) break
      }
      if (batch.length > 0) yield batch
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

function pullEvents<C extends SourceCommit>(
  source: FeedSource<C>,
  start: () => FeedCursor,
  match: FeedMatcher,
  signal: AbortSignal,
): AsyncGenerator<FeedBatch> {
  return pull<C, FeedEvent>(source, start, match, signal, async (c, cursor, batch) => {
    const events = await source.events(c, signal)
    let seq = cursor.at === c.at ? cursor.seq : 0
    for (const e of events) {
      if (e.seq <= seq) continue
      seq = e.seq
      if (match.allTypes || match.type(e.type)) batch.push({ position: source.position(c, e.seq), event: e })
      if (batch.length >= match.limit) break
    }
    return { at: c.at, seq: signal.aborted ? cursor.seq : seq }
  })
}

/** The same loop for consumers that need only what moved: one entry per commit, no bodies read. */
function pullCommits<C extends SourceCommit>(
  source: FeedSource<C>,
  start: () => FeedCursor,
  match: FeedMatcher,
  signal: AbortSignal,
): AsyncGenerator<readonly FeedCommit[]> {
  return pull<C, FeedCommit>(source, start, match, signal, (c, cursor, batch) => {
    batch.push({
      position: source.position(c, c.lastSeq),
      tenant: c.tenant,
      stream: c.stream,
      firstSeq: cursor.at === c.at ? Math.max(c.firstSeq, cursor.seq + 1) : c.firstSeq,
      lastSeq: c.lastSeq,
    })
    return { at: c.at, seq: c.lastSeq }
  })
}

/**
 * An adapter's `subscribe` and `commits`: the request checked now (bad filters throw here), the
 * start fixed now by `startOf` (so `'now'` means the call), the generator made on first use.
 */
export function feedIterables<C extends SourceCommit>(
  source: FeedSource<C>,
  startOf: (after: FeedStart) => () => FeedCursor,
): Pick<EventFeed, 'subscribe' | 'commits'> {
  return {
    subscribe: (request: FeedRequest, signal: AbortSignal): AsyncIterable<FeedBatch> => {
      const match = compileFeedRequest(request)
      const start = startOf(request.after)
      return { [Symbol.asyncIterator]: () => pullEvents(source, start, match, signal) }
    },
    commits: (request: CommitRequest, signal: AbortSignal): AsyncIterable<readonly FeedCommit[]> => {
      const match = compileFeedRequest(request)
      const start = startOf(request.after)
      return { [Symbol.asyncIterator]: () => pullCommits(source, start, match, signal) }
    },
  }
}

/** Calls and forgets every waiting `wake` (see FeedSource.changed): commits arrived. */
export function wakeAll(waiters: Set<() => void>): void {
  if (waiters.size === 0) return
  const all = [...waiters]
  waiters.clear()
  for (const w of all) w()
}

/**
 * Positions as fixed-width hex, so that they compare as strings in feed order:
 * `<at: 12 hex>.<seq: 8 hex>.<check: 8 hex>`. `check` ties a position to the commit it was made
 * for (a checksum, a random tag): a position whose commit is not there any more is refused.
 */
export function encodePosition(at: number, seq: number, check: number): FeedPosition {
  return `${hex(at, 12)}.${hex(seq, 8)}.${hex(check >>> 0, 8)}` as FeedPosition
}

const POSITION = /^([0-9a-f]{12})\.([0-9a-f]{8})\.([0-9a-f]{8})$/

/** The parts of a position string, or null if it is not one. */
export function decodePosition(position: unknown): { at: number; seq: number; check: number } | null {
  if (typeof position !== 'string') return null
  const m = POSITION.exec(position)
  if (!m) return null
  return { at: parseInt(m[1]!, 16), seq: parseInt(m[2]!, 16), check: parseInt(m[3]!, 16) }
}

/** Before every event: the head of an empty feed, and a start from the very beginning. */
export const ZERO_POSITION = encodePosition(0, 0, 0)

function hex(n: number, width: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n >= 16 ** width) throw new RangeError(`${n} does not fit a feed position`)
  return n.toString(16).padStart(width, '0')
}
