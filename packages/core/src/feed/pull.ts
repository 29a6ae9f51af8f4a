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
   * arrival. `wants` says which commits the subscription takes: an adapter may leave it asleep
   * through others (it then skips them when it next wakes), as long as it wakes it before they
   * leave what the adapter keeps in memory.
   */
  changed(cursor: FeedCursor, wake: () => void, wants: FeedMatcher['commit']): void
  /**
   * The commit's events, `firstSeq` to `lastSeq`, with their positions (may wait until they are
   * readable). The same objects may go to every subscriber: an adapter keeps them for recent commits.
   */
  events(commit: C, signal: AbortSignal): readonly FeedEvent[] | Promise<readonly FeedEvent[]>
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
  // At the head, a subscription waits instead of asking for more (one look less per wake: with a
  // thousand subscribers on one process, what each wake costs is what delivery takes). Values
  // that are not promises are not awaited: an await is a turn of the microtask queue each.
  let atHead = false
  try {
    while (!signal.aborted) {
      if (atHead) {
        await new Promise<void>((resolve) => {
          if (signal.aborted) return resolve() // aborted while the batch was with the consumer
          wake = resolve
          source.changed(cursor, resolve, match.commit)
        })
        wake = null
        atHead = false
        continue
      }
      const found = source.after(cursor, match.limit)
      const commits = Array.isArray(found) ? (found as readonly C[]) : await found
      atHead = commits.length < match.limit
      const batch: T[] = []
      for (const c of commits) {
        if (!pastCursor(c, cursor)) continue
        if (match.commit(c.tenant, c.stream)) {
          const next = collect(c, cursor, batch)
          cursor = next instanceof Promise ? await next : next
        } else cursor = { at: c.at, seq: c.lastSeq }
        if (signal.aborted) return
        if (batch.length >= match.limit) {
          atHead = false
          break
        }
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
  const take = (c: C, cursor: FeedCursor, batch: FeedEvent[], events: readonly FeedEvent[]): FeedCursor => {
    let seq = cursor.at === c.at ? cursor.seq : 0
    for (const e of events) {
      if (e.event.seq <= seq) continue
      seq = e.event.seq
      if (match.allTypes || match.type(e.event.type)) batch.push(e)
      if (batch.length >= match.limit) break
    }
    return { at: c.at, seq: signal.aborted ? cursor.seq : seq }
  }
  return pull<C, FeedEvent>(source, start, match, signal, (c, cursor, batch) => {
    const events = source.events(c, signal)
    return Array.isArray(events)
      ? take(c, cursor, batch, events as readonly FeedEvent[])
      : (events as Promise<readonly FeedEvent[]>).then((loaded) => take(c, cursor, batch, loaded))
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
    const firstSeq = cursor.at === c.at ? Math.max(c.firstSeq, cursor.seq + 1) : c.firstSeq
    batch.push(new Commit(source, c, firstSeq))
    return { at: c.at, seq: c.lastSeq }
  })
}

/**
 * A commit as `commits` hands it out. Its position is made when first read: the engine, which
 * sees every commit of its process, never reads it.
 */
class Commit<C extends SourceCommit> implements FeedCommit {
  readonly tenant: C['tenant']
  readonly stream: C['stream']
  readonly lastSeq: number
  // #private: a spread or JSON of a commit shows only what FeedCommit names (see toJSON)
  readonly #source: FeedSource<C>
  readonly #commit: C
  #position: FeedPosition | null = null

  constructor(
    source: FeedSource<C>,
    commit: C,
    readonly firstSeq: number,
  ) {
    this.#source = source
    this.#commit = commit
    this.tenant = commit.tenant
    this.stream = commit.stream
    this.lastSeq = commit.lastSeq
  }

  get position(): FeedPosition {
    return (this.#position ??= this.#source.position(this.#commit, this.#commit.lastSeq))
  }

  toJSON(): FeedCommit {
    const { position, tenant, stream, firstSeq, lastSeq } = this
    return { position, tenant, stream, firstSeq, lastSeq }
  }
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

/**
 * The subscriptions waiting for commits (see FeedSource.changed). `wake(commits)` wakes those that
 * want one of them, and those that have slept through `patience` commits (so that they move past
 * what they do not want while the adapter still has it in memory).
 */
export class FeedWaiters {
  private waiting: Array<{ wake: () => void; wants: FeedMatcher['commit']; since: number }> = []
  private arrivals = 0

  constructor(private readonly patience: number) {}

  add(wake: () => void, wants: FeedMatcher['commit']): void {
    this.waiting.push({ wake, wants, since: this.arrivals })
  }

  wake(commits: readonly SourceCommit[]): void {
    this.arrivals += Math.max(1, commits.length)
    if (this.waiting.length === 0) return
    const woken: Array<() => void> = []
    this.waiting = this.waiting.filter((w) => {
      const due = this.arrivals - w.since >= this.patience || commits.some((c) => w.wants(c.tenant, c.stream))
      if (due) woken.push(w.wake)
      return !due
    })
    for (const wake of woken) wake()
  }

  /** Wakes everyone (the feed is closing). */
  wakeAll(): void {
    const all = this.waiting
    this.waiting = []
    for (const w of all) w.wake()
  }
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
