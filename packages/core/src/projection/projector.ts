import { setTimeout as sleep } from 'node:timers/promises'
import type { StoredEvent } from '../events/envelope.js'
import { isShiiooError, toShiiooError } from '../errors.js'
import { ZERO_POSITION } from '../feed/pull.js'
import type { RunId, StreamId, TenantId } from '../ids.js'
import { streamKind } from '../ids.js'
import type { EventLog, StreamInfo } from '../ports/event-log.js'
import type { FeedBatch, FeedPosition, FeedStart } from '../ports/feed.js'
import type { IndexStore, LlmCall, ProjectedRows, StreamCheckpoint } from '../ports/index-store.js'
import type { Logger } from '../ports/logger.js'
import { silentLogger } from '../ports/logger.js'
import type { RunState } from './run-state.js'
import { applyRunEvent, foldRunState } from './run-state.js'
import type { RunSummary } from './run-summary.js'
import { summarizeRun } from './run-summary.js'
import { llmCallsOf } from './llm-calls.js'
import { FoldPipeline } from './fold-pipeline.js'
import type { FoldOutcome, FoldTask, StreamFolder } from './stream-folder.js'
import { foldFrom, foldStreams } from './stream-folder.js'
import type { ControlProjection } from './control-projection.js'
import { projectControlStream } from './control-projection.js'

export interface ProjectProgress {
  done: number
  total: number
  events: number
  /** Set while streams are still being found (folding has begun): `total` is a lower bound. */
  counting?: boolean
}

export interface ProjectResult {
  streams: number
  events: number
  runs: number
  /** Streams that could not be projected (damaged); the rest of the index is still built. */
  failed: Array<{ tenant: TenantId; stream: StreamId; message: string }>
}

export interface ProjectOptions {
  onProgress?: (p: ProjectProgress) => void
  signal?: AbortSignal
}

export interface RebuildOptions extends ProjectOptions {
  /**
   * Folds streams on another thread while this one writes the index (and folds too when it has
   * nothing to write). Only for a log no one appends to meanwhile: it reads whole files.
   */
  folder?: StreamFolder
}

/** What `Projector.follow` runs: `caughtUp` settles once the index holds what the feed held when it began. */
export interface Following {
  caughtUp: Promise<ProjectResult>
  done: Promise<void>
}

export interface ProjectorOptions {
  log: EventLog
  index: IndexStore
  /** Read models of control streams the features declare (see ControlProjection). */
  projections?: readonly ControlProjection[]
  logger?: Logger
  /** Streams read and saved per index transaction during catch-up and rebuild. */
  chunkSize?: number
}

/**
 * Keeps the index a fold of the streams: live (`follow`, every process's appends through the
 * feed, or `attach`, this process's), after a restart (`follow` continues after the feed position
 * the index saved; `catchUp` re-reads only streams whose change token moved) and from nothing
 * (`rebuild`). The same fold code runs in all of them, so a rebuilt index answers exactly like
 * the live one.
 */
/** Runs whose state the projector keeps between appends (see runState). */
const KEPT_STATES = 1024

export class Projector {
  private readonly logger: Logger
  private chain: Promise<void> = Promise.resolve()
  private readonly states = new Map<string, RunState>()
  /** Where `follow` has applied the feed to (null before it has). */
  private applied: FeedPosition | null = null
  private readonly reachedWaiters = new Set<{ position: FeedPosition; resolve: () => void }>()
  private following = false

  private readonly projections: readonly ControlProjection[]

  constructor(private readonly options: ProjectorOptions) {
    this.logger = options.logger ?? silentLogger
    this.projections = options.projections ?? []
  }

  /** Whether the index gets the rows of the control-stream projection `name` from this projector. */
  projects(name: string): boolean {
    return this.projections.some((p) => p.name === name)
  }

  /**
   * Folds appended events into the index. Idempotent: events the index already has are skipped.
   * `feedPosition`: the events are the feed's up to there; it is saved with them. Returns how many
   * runs changed.
   */
  async apply(events: readonly StoredEvent[], feedPosition?: FeedPosition): Promise<number> {
    const byRun = new Map<string, StoredEvent[]>()
    const controls = new Map<string, { tenant: TenantId; stream: StreamId }>()
    for (const e of events) {
      const key = `${e.tenant}/${e.stream}`
      if (streamKind(e.stream) !== 'run') {
        if (this.projections.some((p) => p.accepts(e.stream))) controls.set(key, e)
        continue
      }
      const list = byRun.get(key)
      if (list) list.push(e)
      else byRun.set(key, [e])
    }
    const runs: RunSummary[] = []
    const llmCalls: LlmCall[] = []
    for (const [key, list] of byRun) {
      list.sort((a, b) => a.seq - b.seq)
      const { tenant, stream } = list[0]!
      const state = await this.runState(key, tenant, stream as RunId, list)
      if (state === null) continue
      runs.push(summarizeRun(state))
      llmCalls.push(...llmCallsOf(list, state.workflow.name))
    }
    // a control stream a projection folds is short: read and folded whole
    const projected: ProjectedRows[] = []
    for (const { tenant, stream } of controls.values()) {
      const all = await this.options.log.read({ tenant, stream, validation: 'checksum' })
      projected.push(...projectControlStream(this.projections, tenant, stream, all))
    }
    if (runs.length > 0 || projected.length > 0 || feedPosition !== undefined) {
      await this.options.index.save({
        runs,
        checkpoints: [],
        llmCalls,
        projected,
        ...(feedPosition === undefined ? {} : { feedPosition }),
      })
    }
    return runs.length
  }

  /**
   * The run's state with `events` folded in, or null when they add nothing. States of recently
   * changed runs are kept, so following a run costs a fold of its new events; a run not kept (or
   * whose events skip ahead: a gap this process did not see) is read from its first event. The
   * index stores summaries only: the state is the one fold of the run's events (run-state.ts).
   */
  private async runState(
    key: string,
    tenant: TenantId,
    runId: RunId,
    events: readonly StoredEvent[],
  ): Promise<RunState | null> {
    let state = this.states.get(key)
    const last = events.at(-1)!.seq
    if (state !== undefined && last <= state.version) return null
    if (state === undefined || events[0]!.seq > state.version + 1) {
      this.states.delete(key)
      state = foldRunState(await this.options.log.read({ tenant, stream: runId, validation: 'checksum' }))
    } else {
      // taken out while it changes: a fold that throws leaves no half-folded state, and the next
      // append reads the run whole; re-inserted below, as the newest
      this.states.delete(key)
      for (const e of events) if (e.seq > state.version) applyRunEvent(state, e)
    }
    this.states.set(key, state)
    if (this.states.size > KEPT_STATES) this.states.delete(this.states.keys().next().value!)
    return state
  }

  /** Projects every append of `log` from now on, in order. Returns the unsubscribe function. */
  attach(): () => void {
    return this.options.log.subscribe((events) => {
      this.chain = this.chain
        .then(async () => void (await this.apply(events)))
        .catch((err: unknown) => this.logger.error('projection failed', { error: toShiiooError(err).message }))
    })
  }

  /**
   * Follows the log's feed from where the index left it, applying each batch together with its
   * position, until `signal` aborts. The index continues after the position it saved while the
   * feed still holds it; otherwise (a new index, a position older than the feed's retention or
   * lost in a crash: GONE) it catches up by scanning the streams (`catchUp`) and follows from the
   * feed's head as it was before the scan, applying again what the scan already saw (harmless).
   */
  follow(signal: AbortSignal): Following {
    this.following = true
    const feed = this.options.log.feed
    const result: ProjectResult = { streams: 0, events: 0, runs: 0, failed: [] }
    const streams = new Set<string>()
    let caught = false
    const target = feed.head()
    const caughtUp = target.then(async (t) => {
      await this.reached(t)
      caught = true
      return { ...result, streams: result.streams + streams.size, failed: [...result.failed] }
    })
    caughtUp.catch(() => undefined) // observed by whoever asks for it
    const done = (async () => {
      let start: FeedStart | null = await this.options.index.feedPosition()
      // saved at the head: nothing to wait for (later positions arrive in batches)
      if (start !== null && start === (await target)) this.advance(start)
      while (!signal.aborted) {
        try {
          if (start === null) {
            const head = await feed.head()
            const scanned = await this.catchUp({ signal })
            Object.assign(result, { ...scanned, streams: result.streams + scanned.streams })
            await this.options.index.save({ runs: [], checkpoints: [], feedPosition: head })
            this.advance(head)
            start = head
          }
          const batches: AsyncIterable<FeedBatch> = feed.subscribe({ after: start }, signal)
          for await (const batch of batches) {
            const position: FeedPosition = batch.at(-1)!.position
            const events = batch.map((e) => e.event)
            const changed = await this.enqueue(() => this.apply(events, position))
            if (!caught) {
              result.events += events.length
              result.runs += changed
              for (const e of events) streams.add(`${e.tenant}/${e.stream}`)
            }
            start = position
            this.advance(position)
          }
        } catch (err) {
          if (signal.aborted) break
          const error = toShiiooError(err)
          if (isShiiooError(err) && err.code === 'GONE') {
            this.logger.warn('the index position is not in the feed any more; scanning the streams', {
              error: error.message,
            })
            start = null
            continue
          }
          this.logger.error('following the feed failed; trying again', { error: error.message })
          await sleep(1000, undefined, { signal }).catch(() => undefined)
        }
      }
    })().finally(() => (this.following = false))
    return { caughtUp, done }
  }

  /** Runs `work` after every apply already queued (applies never interleave). */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work)
    this.chain = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  private advance(position: FeedPosition): void {
    this.applied = position
    for (const w of [...this.reachedWaiters]) {
      if (w.position <= position) {
        this.reachedWaiters.delete(w)
        w.resolve()
      }
    }
  }

  /** Resolves once `follow` has applied the feed up to `position` (positions compare as strings). */
  reached(position: FeedPosition): Promise<void> {
    if (position === ZERO_POSITION || (this.applied !== null && position <= this.applied)) return Promise.resolve()
    return new Promise((resolve) => this.reachedWaiters.add({ position, resolve }))
  }

  /** Resolves when every append seen so far has been projected (while following: the feed's head now). */
  async idle(): Promise<void> {
    await this.chain
    if (this.following) await this.reached(await this.options.log.feed.head())
  }

  /** Brings the index up to date with the streams, reading only streams that changed. */
  async catchUp(options: ProjectOptions = {}): Promise<ProjectResult> {
    return this.project(options, false)
  }

  /** Empties the index and projects every stream from its first event. */
  async rebuild(options: RebuildOptions = {}): Promise<ProjectResult> {
    await this.chain
    // the streams are read after this: the rebuilt index holds the feed up to it, and a server
    // started next follows on from there instead of scanning
    const head = await this.options.log.feed.head()
    this.states.clear()
    await this.options.index.reset()
    const result = options.folder ? await this.rebuildWith(options.folder, options) : await this.project(options, true)
    await this.options.index.save({ runs: [], checkpoints: [], feedPosition: head })
    return result
  }

  /** A rebuild on two threads: streams are folded while the listing goes on and while the index is written. */
  private async rebuildWith(folder: StreamFolder, options: ProjectOptions): Promise<ProjectResult> {
    const result: ProjectResult = { streams: 0, events: 0, runs: 0, failed: [] }
    let done = 0
    let counting = true
    const pipeline = new FoldPipeline({
      remote: folder,
      local: (tasks) => foldStreams(this.options.log, tasks, this.projections),
      save: async (outcome, streams) => {
        await this.saveOutcome(outcome, result)
        done += streams
        options.onProgress?.({ done, total: result.streams, events: result.events, counting })
      },
      signal: options.signal,
    })
    options.onProgress?.({ done: 0, total: 0, events: 0, counting })
    let batch: FoldTask[] = []
    // the worker knows no feature's projections: the control streams they fold are folded here
    const controls: FoldTask[] = []
    for await (const s of this.options.log.listStreams({ signal: options.signal })) {
      const task = { tenant: s.tenant, stream: s.stream, token: s.token, fromSeq: 1 }
      result.streams++
      if (streamKind(s.stream) !== 'run' && this.projections.some((p) => p.accepts(s.stream))) {
        controls.push(task)
        continue
      }
      batch.push(task)
      if (batch.length === 100) {
        await pipeline.push(batch)
        batch = []
      }
    }
    counting = false
    await pipeline.push(batch)
    await pipeline.finish()
    if (controls.length > 0) {
      await this.saveOutcome(await foldStreams(this.options.log, controls, this.projections), result)
      options.onProgress?.({ done: result.streams, total: result.streams, events: result.events })
    }
    return result
  }

  private async saveOutcome(outcome: FoldOutcome, result: ProjectResult): Promise<void> {
    for (const f of outcome.failed)
      this.logger.error('stream not projected', { tenant: f.tenant, stream: f.stream, error: f.message })
    await this.options.index.save({
      runs: outcome.runs,
      checkpoints: outcome.checkpoints,
      llmCalls: outcome.llmCalls,
      projected: outcome.projected,
    })
    result.events += outcome.events
    result.runs += outcome.runs.length
    result.failed.push(...outcome.failed)
  }

  /** `empty`: the index was just reset, so there is nothing to look up before folding. */
  private async project(options: ProjectOptions, empty: boolean): Promise<ProjectResult> {
    const seen = new Map<string, StreamCheckpoint>()
    if (!empty) for (const c of await this.options.index.checkpoints()) seen.set(`${c.tenant}/${c.stream}`, c)
    const todo: StreamInfo[] = []
    for await (const s of this.options.log.listStreams({ signal: options.signal })) {
      if (seen.get(`${s.tenant}/${s.stream}`)?.token !== s.token) todo.push(s)
    }
    const result: ProjectResult = { streams: todo.length, events: 0, runs: 0, failed: [] }
    const chunkSize = this.options.chunkSize ?? 1000
    options.onProgress?.({ done: 0, total: todo.length, events: 0 })
    for (let i = 0; i < todo.length; i += chunkSize) {
      options.signal?.throwIfAborted()
      const chunk = todo.slice(i, i + chunkSize)
      await this.saveOutcome(await this.foldChunk(chunk, seen), result)
      options.onProgress?.({ done: i + chunk.length, total: todo.length, events: result.events })
    }
    return result
  }

  private async foldChunk(chunk: StreamInfo[], seen: Map<string, StreamCheckpoint>): Promise<FoldOutcome> {
    // a run is folded whole (the one fold of its events); a control stream from where it was left
    const tasks: FoldTask[] = chunk.map((s) => ({
      tenant: s.tenant,
      stream: s.stream,
      token: s.token,
      fromSeq: foldFrom(s.stream, this.projections, seen.get(`${s.tenant}/${s.stream}`)?.version ?? 0),
    }))
    return foldStreams(this.options.log, tasks, this.projections)
  }
}
