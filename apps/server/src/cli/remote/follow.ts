import type { ShiiooClient } from '@shiioo/client'
import { toShiiooError } from '@shiioo/core'
import type { EventView, EventViewListener, FollowOptions, RunFollower } from '@shiioo/orchestrator'
import { remote } from './errors.js'

const WAKE = `subscription Wake($runId: ID!) { runUpdates(runId: $runId, after: "now") { position } }`

/**
 * A run's events from a server, in seq order, each once: what it holds, then what follows. The
 * server's live feed (a GraphQL subscription over SSE) says when there is more; the events
 * themselves are read over REST (`/api/runs/{id}/events?after=`), so they are the same views a
 * local follower delivers.
 */
export function followRemote(
  client: ShiiooClient,
  runId: string,
  listener: EventViewListener,
  options: FollowOptions & { onError?: (err: unknown) => void } = {},
): RunFollower {
  let delivered = (options.fromSeq ?? 1) - 1
  let stopped = false
  let chain: Promise<void> = Promise.resolve()
  const stop = new AbortController()

  const read = async () => {
    if (stopped) return
    const page = await remote(() =>
      client.data(
        client.api.GET('/api/runs/{runId}/events', { params: { path: { runId }, query: { after: delivered } } }),
      ),
    )
    const fresh = (page.items as EventView[]).filter((e) => e.seq > delivered)
    if (fresh.length === 0 || stopped) return
    delivered = fresh[fresh.length - 1]!.seq
    listener(fresh)
  }
  const pull = () => (chain = chain.then(read))

  const opened = new Promise<void>((resolve) => {
    void (async () => {
      try {
        for await (const _ of client.subscribe(
          { query: WAKE, variables: { runId } },
          { signal: stop.signal, onOpen: resolve },
        )) {
          void pull().catch((err: unknown) => options.onError?.(err))
        }
      } catch (err) {
        resolve()
        if (!stopped) options.onError?.(toShiiooError(err))
      }
    })()
  })
  // subscribed first, then read what the log holds: nothing falls between the two
  const ready = opened.then(() => pull())
  ready.catch((err: unknown) => options.onError?.(err))

  return {
    flush: async () => {
      await ready
      await pull()
    },
    stop() {
      stopped = true
      stop.abort()
    },
  }
}
