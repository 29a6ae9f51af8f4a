import { setImmediate as nextTurn } from 'node:timers/promises'
import type { FoldOutcome, FoldTask, StreamFolder } from './stream-folder.js'

export interface FoldPipelineOptions {
  /** Folds chunks away from this thread. */
  remote: StreamFolder
  /** Folds a chunk on this thread, when there is nothing to save and work is queued. */
  local: (tasks: readonly FoldTask[]) => Promise<FoldOutcome>
  /** Writes an outcome to the index, on this thread. */
  save: (outcome: FoldOutcome, streams: number) => Promise<void>
  signal?: AbortSignal | undefined
  /** Streams per remote chunk (default 500); the remote keeps two in hand. */
  remoteChunk?: number
  /** Streams per local chunk (default 100): small, so remote results are saved soon after they land. */
  localChunk?: number
}

interface InFlight {
  streams: number
  settled: boolean
  result: Promise<FoldOutcome>
}

/**
 * Two cores at work on one rebuild: the remote folder reads and folds chunks of streams while
 * this thread writes the index; when no remote result is waiting, this thread folds a small chunk
 * itself. The split balances itself, whatever the relative speed of folding and writing.
 */
export class FoldPipeline {
  private readonly queue: FoldTask[] = []
  private head = 0
  private readonly inFlight: InFlight[] = []
  private readonly remoteChunk: number
  private readonly localChunk: number

  constructor(private readonly options: FoldPipelineOptions) {
    this.remoteChunk = options.remoteChunk ?? 500
    this.localChunk = options.localChunk ?? 100
  }

  /** Queues tasks (as a listing finds them) and does the work that is due meanwhile. */
  async push(tasks: readonly FoldTask[]): Promise<void> {
    for (const t of tasks) this.queue.push(t)
    await this.work(false)
  }

  /** Folds and saves everything queued. */
  async finish(): Promise<void> {
    await this.work(true)
  }

  private get queued(): number {
    return this.queue.length - this.head
  }

  private take(n: number): FoldTask[] {
    const chunk = this.queue.slice(this.head, this.head + n)
    this.head += chunk.length
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head)
      this.head = 0
    }
    return chunk
  }

  /**
   * Hands the remote full chunks, and at the end what is left unless that is little: a small
   * rebuild is over before a worker thread has even started.
   */
  private dispatch(final: boolean): void {
    const least = final ? 2 * this.localChunk : this.remoteChunk
    while (this.inFlight.length < 2 && this.queued >= least) {
      const chunk = this.take(this.remoteChunk)
      const entry: InFlight = { streams: chunk.length, settled: false, result: this.options.remote.fold(chunk) }
      const settle = () => {
        entry.settled = true
      }
      entry.result.then(settle, settle)
      this.inFlight.push(entry)
    }
  }

  /**
   * Until the queue is short enough to wait for more (or, at the end, until all is saved): save
   * remote results as they land, otherwise fold locally what the remote will not need soon.
   */
  private async work(final: boolean): Promise<void> {
    for (;;) {
      this.options.signal?.throwIfAborted()
      this.dispatch(final)
      const next = this.inFlight[0]
      if (next?.settled) {
        this.inFlight.shift()
        await this.options.save(await next.result, next.streams)
        continue
      }
      // leave the remote its next chunks; at the end, take whatever is left
      const spare = final ? this.queued : this.queued - 2 * this.remoteChunk
      if (spare > 0) {
        const chunk = this.take(Math.min(this.localChunk, spare))
        await this.options.save(await this.options.local(chunk), chunk.length)
        await nextTurn() // let landed remote results in
        continue
      }
      if (!final || next === undefined) return
      await next.result.catch(() => undefined)
    }
  }
}
