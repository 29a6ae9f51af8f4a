import type { RunFollower, RunOutcomeView, RunStatus } from '@shiioo/orchestrator'
import type { CommandContext } from './context.js'
import { formatSpan } from './format.js'
import type { Output } from './io.js'
import { createRunProgress } from './run-progress.js'
import type { RemoteServices, Session } from './session.js'
import { onInterrupt } from './shutdown.js'

/** How `run`, `fork` and `resume` end: 0 only when every run they waited for completed. */
export const RUN_EXIT_CODES: Readonly<Record<RunStatus, number>> = {
  completed: 0,
  failed: 1,
  cancelled: 3,
  // never the end of a wait; listed so the table covers every status
  running: 1,
  paused: 1,
}

/** Ctrl-C while following: the runs stay unfinished in the log; 128 + SIGINT, as shells expect. */
export const INTERRUPTED_EXIT_CODE = 130

export const RUN_EXIT_HELP =
  'Exit code: 0 when the run completed, 1 when it failed, 3 when it was cancelled, 2 for bad input, ' +
  '130 when interrupted (the run stays unfinished: `shiioo resume` continues it).'

export interface Watched {
  runId: string
  /** Follow from this seq (1: the whole history). */
  fromSeq: number
  startedAt?: string
  /** Approval units decided before `fromSeq` (`step` or `step[item]`). */
  decided?: string[]
}

/**
 * Drives the runs here and prints their progress (on stderr) until every one has ended, or until
 * Ctrl-C, which stops driving and leaves them unfinished in the log. Null when interrupted.
 */
export async function watchRuns(
  ctx: CommandContext,
  session: Session<RemoteServices>,
  runs: readonly Watched[],
  options: { prefix: boolean; progress?: Output; onStarted?: (runId: string, unit: string, attempt: number) => void },
): Promise<RunOutcomeView[] | null> {
  const { services, caller } = session
  const followers: RunFollower[] = runs.map((r) => {
    const progress = createRunProgress(r.runId, {
      out: options.progress ?? ctx.io.err,
      ...(options.onStarted ? { onStarted: (unit: string, n: number) => options.onStarted?.(r.runId, unit, n) } : {}),
      shiioo: ctx.shiioo,
      dataDirArg: session.dataDirArg,
      ...(r.startedAt === undefined ? {} : { startedAt: r.startedAt }),
      ...(r.decided === undefined ? {} : { decided: r.decided }),
      ...(options.prefix ? { prefix: `[…${r.runId.slice(-6)}] ` } : {}),
    })
    return services.runs.follow(caller, r.runId, (events) => progress.onEvents(events), { fromSeq: r.fromSeq })
  })
  const interrupt = onInterrupt()
  try {
    const ended = Promise.all(runs.map((r) => services.runs.wait(caller, r.runId)))
    const outcome = await Promise.race([ended, interrupt.signalled])
    if (typeof outcome === 'string') {
      for (const f of followers) f.stop()
      ctx.io.err.write(
        session.server !== null
          ? `\n${outcome}: stopped watching; the server at ${session.server} drives the run${runs.length === 1 ? '' : 's'} on` +
              ` (see \`${ctx.shiioo} runs show ${runs[0]!.runId}${session.dataDirArg}\`)\n`
          : `\n${outcome}: stopped driving; the run${runs.length === 1 ? ' is' : 's are'} left unfinished.` +
              ` Continue with: ${ctx.shiioo} resume${session.dataDirArg}\n`,
      )
      return null
    }
    await Promise.all(followers.map((f) => f.flush()))
    return outcome
  } finally {
    for (const f of followers) f.stop()
    interrupt.dispose()
  }
}

/** The final word on a run: its status on stderr, its output as JSON on stdout. */
export function reportOutcome(
  ctx: CommandContext,
  o: RunOutcomeView,
  session: Session<RemoteServices>,
  showOutput: boolean,
): void {
  const took = o.durationMs === null ? '' : ` in ${formatSpan(o.durationMs)}`
  switch (o.status) {
    case 'completed':
      ctx.io.err.write(`run ${o.runId} completed${took}\n`)
      if (showOutput) ctx.io.out.write(JSON.stringify(o.output, null, 2) + '\n')
      return
    case 'failed':
      ctx.io.err.write(
        `run ${o.runId} failed${took}${o.failedStep ? ` at step ${o.failedStep}` : ''}: ` +
          `${o.error?.code ?? 'ERROR'}: ${o.error?.message ?? 'no reason recorded'}\n` +
          `details: ${ctx.shiioo} runs show ${o.runId}${session.dataDirArg}\n`,
      )
      return
    case 'cancelled':
      ctx.io.err.write(`run ${o.runId} cancelled${took}: ${o.cancelReason ?? 'no reason recorded'}\n`)
      return
    case 'running':
    case 'paused':
      ctx.io.err.write(`run ${o.runId} is ${o.status}\n`)
      return
  }
}
