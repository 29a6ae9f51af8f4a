import { randomInt } from 'node:crypto'
import type {
  EventFeed,
  FeedCursor,
  FeedEvent,
  FeedPosition,
  FeedRequest,
  FeedSource,
  SourceCommit,
  StoredEvent,
} from '@shiioo/core'
import {
  ZERO_POSITION,
  badPosition,
  decodePosition,
  encodePosition,
  feedIterables,
  FeedWaiters,
  positionGone,
} from '@shiioo/core'

interface MemoryCommit extends SourceCommit {
  events: readonly FeedEvent[]
  /** A random tag per commit: a position made for a commit that is gone does not match its successor. */
  tag: number
}

/**
 * The feed of MemoryEventLog: commits numbered from 1 in append order. `expire` and `loseTail`
 * stand in for a backend's retention and for a crash that lost recent commits, so the conformance
 * suite can check that such positions are refused.
 */
export class MemoryFeed implements EventFeed {
  private commitsHeld: MemoryCommit[] = []
  /** Commits dropped from the front (by `expire`): `commitsHeld[0]` has number `dropped + 1`. */
  private dropped = 0
  private readonly waiters = new FeedWaiters(1) // everything is kept: a subscription sleeps through none
  private lastHead: FeedPosition = ZERO_POSITION

  private readonly source: FeedSource<MemoryCommit> = {
    after: (cursor, max) => {
      // commits between the cursor and the first one held were dropped: never skip them silently
      if (cursor.at < this.dropped) throw positionGone(this.position(cursor), 'expired')
      const from = cursor.at - this.dropped - 1 < 0 ? 0 : cursor.at - this.dropped - 1
      const out: MemoryCommit[] = []
      for (let i = from; i < this.commitsHeld.length && out.length < max; i++) {
        const c = this.commitsHeld[i]!
        if (c.at > cursor.at || c.lastSeq > cursor.seq) out.push(c)
      }
      return out
    },
    changed: (cursor, wake, wants) => (this.last() > cursor.at ? wake() : this.waiters.add(wake, wants)),
    events: (c) => c.events,
    position: (c, seq) => encodePosition(c.at, seq, c.tag),
  }

  /** Called by the log once an append is stored. */
  add(events: readonly StoredEvent[]): void {
    const first = events[0]!
    const at = this.last() + 1
    const tag = randomInt(1, 2 ** 32)
    this.commitsHeld.push({
      at,
      tenant: first.tenant,
      stream: first.stream,
      firstSeq: first.seq,
      lastSeq: events.at(-1)!.seq,
      events: events.map((event) => ({ position: encodePosition(at, event.seq, tag), event })),
      tag,
    })
    const c = this.commitsHeld.at(-1)!
    this.lastHead = this.source.position(c, c.lastSeq)
    this.waiters.wake([this.commitsHeld.at(-1)!])
  }

  private readonly iterables = feedIterables(this.source, (after) => this.startOf(after))
  readonly subscribe: EventFeed['subscribe'] = this.iterables.subscribe
  readonly commits: EventFeed['commits'] = this.iterables.commits

  async head(): Promise<FeedPosition> {
    return this.lastHead
  }

  /** Stands in for retention: every position handed out so far is older than what the feed keeps. */
  expire(): void {
    this.dropped += this.commitsHeld.length
    this.commitsHeld = []
  }

  /** Stands in for a crash that lost the last `count` commits (their numbers are given out again). */
  loseTail(count: number): void {
    this.commitsHeld.splice(Math.max(0, this.commitsHeld.length - count))
    const c = this.commitsHeld.at(-1)
    this.lastHead = c ? this.source.position(c, c.lastSeq) : ZERO_POSITION
  }

  private last(): number {
    return this.dropped + this.commitsHeld.length
  }

  private position(cursor: FeedCursor): string {
    return `commit ${cursor.at}, seq ${cursor.seq}`
  }

  /** 'now' is fixed here, at the call; anything else is checked when iteration begins. */
  private startOf(after: FeedRequest['after']): () => FeedCursor {
    if (after === 'now') {
      const now = { at: this.last(), seq: Number.MAX_SAFE_INTEGER }
      return () => now
    }
    return () => {
      if (after === 'start') return { at: this.dropped, seq: Number.MAX_SAFE_INTEGER }
      const p = decodePosition(after)
      if (p === null) throw badPosition(after)
      if (after === ZERO_POSITION) {
        if (this.dropped > 0) throw positionGone(after, 'expired')
        return { at: 0, seq: Number.MAX_SAFE_INTEGER }
      }
      if (p.at <= this.dropped) throw positionGone(after, 'expired')
      const c = this.commitsHeld[p.at - this.dropped - 1]
      if (!c || c.tag !== p.check || p.seq < c.firstSeq || p.seq > c.lastSeq) throw positionGone(after, 'unknown')
      return { at: p.at, seq: p.seq }
    }
  }
}
