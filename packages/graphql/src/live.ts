import type { LiveEventView } from '@shiioo/orchestrator'

/** An item of a subscription's stream: an event, or the error that ended the feed (sent as the last payload). */
export type LiveItem<T = LiveEventView> = { event: T } | { error: unknown }

/**
 * The events of a live subscription one by one, for graphql-js. Stopping the subscription (a
 * client unsubscribing or going away calls `return()`) aborts the feed at once, even while it
 * waits for the next event, and even before the first `next()`. An error of the feed (a position
 * it no longer holds) becomes the stream's last item, so the client receives it as a GraphQL error.
 * `keep` drops events a subscription's filters cannot name to the feed.
 */
export function liveItems<T = LiveEventView>(
  batches: AsyncIterable<readonly T[]>,
  stop: AbortController,
  keep: (e: T) => boolean = () => true,
): AsyncIterableIterator<LiveItem<T>> {
  const source = batches[Symbol.asyncIterator]()
  const buffered: T[] = []
  let ended = false
  const finish = async (): Promise<IteratorResult<LiveItem<T>>> => {
    ended = true
    stop.abort()
    await source.return?.().catch(() => undefined)
    return { done: true, value: undefined }
  }
  const iterator: AsyncIterableIterator<LiveItem<T>> = {
    async next() {
      if (buffered.length > 0) return { done: false, value: { event: buffered.shift()! } }
      if (ended) return { done: true, value: undefined }
      let result: IteratorResult<readonly T[]>
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
