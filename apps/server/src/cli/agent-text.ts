import type { AgentTextView } from '@shiioo/orchestrator'
import type { Output } from './io.js'
import type { RemoteServices, Session } from './session.js'

/** Where the text of a turn goes: under the progress lines, indented like their notes. */
const INDENT = ' '.repeat(10)

/**
 * One stream of stderr shared by progress lines and agents' live text: a progress line written
 * while a reply is half printed starts on a line of its own, and the reply goes on under a fresh
 * label after it.
 */
export class TextInterleave {
  private current: string | null = null
  private midLine = false

  constructor(private readonly out: Output) {}

  /** The output for whole lines (the run progress). */
  readonly lines: Output = {
    write: (text: string) => {
      this.breakLine()
      this.current = null
      return this.out.write(text)
    },
  }

  /** Attempts whose `started` line is printed: their text follows it, never comes before it. */
  private readonly shown = new Set<string>()
  private readonly held = new Map<string, AgentTextView[]>()

  /** The progress printed that an attempt started: its text, held until now, follows. */
  started(runId: string, unit: string, attempt: number): void {
    const attemptKey = `${runId}/${unit}/${attempt}`
    this.shown.add(attemptKey)
    const held = this.held.get(attemptKey)
    this.held.delete(attemptKey)
    for (const d of held ?? []) this.text(d)
  }

  /** A piece of an agent's reply, labelled by its step (and turn, and call after a failover). */
  text(d: AgentTextView): void {
    const unit = d.item === null ? d.stepId : `${d.stepId}[${d.item}]`
    const attemptKey = `${d.runId}/${unit}/${d.attempt}`
    if (!this.shown.has(attemptKey)) {
      // live text outruns the durable progress: kept until its step's line is out (a little of it)
      const held = this.held.get(attemptKey) ?? []
      if (held.length < 10_000) this.held.set(attemptKey, [...held, d])
      return
    }
    const key = `${attemptKey}/${d.turn}/${d.call}`
    if (this.current !== key) {
      this.breakLine()
      const again = d.call > 1 ? `, again via ${d.source}` : ''
      this.out.write(`${INDENT}${unit} says (turn ${d.turn}${again}): `)
      this.current = key
      this.midLine = true
    }
    const parts = (d.skipped > 0 ? `[… ${d.skipped} pieces missed] ${d.delta}` : d.delta).split('\n')
    parts.forEach((part, i) => {
      if (i > 0) {
        this.out.write('\n')
        this.midLine = false
      }
      if (part === '') return
      // a continued line is indented only once it has text, so no line ends in blanks
      if (!this.midLine) this.out.write(`${INDENT}  `)
      this.out.write(part)
      this.midLine = true
    })
  }

  private breakLine(): void {
    if (this.midLine) this.out.write('\n')
    this.midLine = false
  }
}

/** Prints the live text of the runs it is told to follow, until stopped. */
export interface AgentTextPrinter {
  /** Prints this run's text (including what it said since the printer started). */
  follow(runId: string): void
  stop(): void
}

/**
 * Listens to every run's text of the caller's tenant before a run is started (so its first words
 * are not missed), keeping only the runs it is told to follow. Null when the caller may not listen
 * tenant-wide (the run's progress is shown all the same).
 */
export async function startAgentText(
  session: Session<RemoteServices>,
  interleave: TextInterleave,
): Promise<AgentTextPrinter | null> {
  const stop = new AbortController()
  let batches: AsyncIterable<readonly AgentTextView[]>
  try {
    batches = await session.services.live.agentText(session.caller, {}, stop.signal)
  } catch {
    return null
  }
  const followed = new Set<string>()
  const early: AgentTextView[] = []
  void (async () => {
    try {
      for await (const batch of batches) {
        for (const d of batch) {
          if (followed.has(d.runId)) interleave.text(d)
          // before the run's id is known: kept, a little
          else if (followed.size === 0 && early.length < 10_000) early.push(d)
        }
      }
    } catch {
      // the live text is a courtesy: its loss leaves the progress and the outcome as they are
    }
  })()
  return {
    follow(runId) {
      followed.add(runId)
      for (const d of early.splice(0)) if (d.runId === runId) interleave.text(d)
    },
    stop: () => stop.abort(),
  }
}
