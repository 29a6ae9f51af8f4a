import type { LiveBatch, LiveEventView } from '@shiioo/orchestrator'

/** An item of a subscription's stream: an event, or the error that ended the feed (sent as the last payload). */
export type LiveItem = { event: LiveEventView } | { error: unknown }

/**
 * The events of a live subscription one by one, for graphql-js. Stopping the subscription (a
 * client unsubscribing or going away calls `return()`) aborts the feed at once, even while it
 * waits for the next event, and even before the first `next()`. An error of the feed (a position
 * it no longer holds) becomes the stream's last item, so the client receives it as a GraphQL error.
 * `keep` drops events a subscription's filters cannot name to the feed.
 */
export function liveItems(
  batches: AsyncIterable<LiveBatch>,
  stop: AbortController,
  keep: (e: LiveEventView) => boolean = () => true,
): AsyncIterableIterator<LiveItem> {
  const source = batches[Symbol.asyncIterator]()
  const buffered: LiveEventView[] = []
  let ended = false
  const finish = async (): Promise<IteratorResult<LiveItem>> => {
    ended = true
    stop.abort()
    await source.return?.().catch(() => undefined)
    return { done: true, value: undefined }
  }
  const iterator: AsyncIterableIterator<LiveItem> = {
    async next() {
      if (buffered.length > 0) return { done: false, value: { event: buffered.shift()! } }
      if (ended) return { done: true, value: undefined }
      let result: IteratorResult<LiveBatch>
      try {
        result = await source.next()
      } catch (error) {
        if (stop.signal.aborted) return finish()
        await finish()
        return { done: false, value: { error } }
      }
      if (result.done || stop.signal.aborted) return finish()
      buffered.push(...result.value.filter(keep))
      return iterator.next()
    },
    return: finish,
    [Symbol.asyncIterator]: () => iterator,
  }
  return iterator
}
