import type { Command } from 'commander'
import type { RunStatus } from '@shiioo/core'
import { RUN_STATUSES, ShiiooError } from '@shiioo/core'
import type { RunView } from '@shiioo/orchestrator'
import type { CommandContext } from './context.js'
import { formatInstant, formatSpan, formatTable } from './format.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withRemoteOptions } from './options.js'
import { formatRunDetails, formatStateAt } from './run-details.js'
import type { RemoteServices, Session } from './session.js'
import { withSession } from './session.js'
import { INTERRUPTED_EXIT_CODE, RUN_EXIT_CODES, reportOutcome, watchRuns } from './watch.js'

interface JsonOption extends GlobalOptions {
  json?: boolean
}

interface ListOptions extends JsonOption {
  status?: string
  workflow?: string
  limit?: string
  cursor?: string
}

/** A whole number from an option, or INVALID_INPUT naming the option. */
export function wholeNumber(text: string, option: string, min: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(n) || n < min) {
    throw new ShiiooError('INVALID_INPUT', `${option} must be a whole number from ${min}, not "${text}"`, {
      details: { field: option },
    })
  }
  return n
}

function parseStatus(text: string): RunStatus {
  if ((RUN_STATUSES as readonly string[]).includes(text)) return text as RunStatus
  throw new ShiiooError('INVALID_INPUT', `--status must be one of ${RUN_STATUSES.join(', ')}, not "${text}"`)
}

export function registerRuns(program: Command, ctx: CommandContext): void {
  const runs = program.command('runs').description('list, inspect and steer runs')

  withRemoteOptions(
    runs
      .command('list')
      .description('list runs, newest first')
      .option('--status <status>', `only runs with this status: ${RUN_STATUSES.join(', ')}`)
      .option('--workflow <name>', 'only runs of this workflow')
      .option('--limit <n>', 'at most this many runs, 1-500 (default 50)')
      .option('--cursor <cursor>', 'the next page, from a previous listing')
      .option('--json', 'print the page as JSON: { items, nextCursor }'),
    QUIET,
  ).action(async (options: ListOptions) => {
    await withSession(
      options,
      { create: false, readOnly: true, remote: true },
      async ({ services, caller, dataDirArg }) => {
        const page = await services.runs.list(caller, {
          ...(options.status === undefined ? {} : { status: parseStatus(options.status) }),
          ...(options.workflow === undefined ? {} : { workflow: options.workflow }),
          ...(options.limit === undefined ? {} : { limit: wholeNumber(options.limit, '--limit', 1) }),
          ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
        })
        if (options.json) {
          ctx.io.out.write(JSON.stringify(page) + '\n')
          return
        }
        if (page.items.length === 0) {
          ctx.io.err.write('no runs\n')
          return
        }
        const now = Date.now()
        const rows = page.items.map((r) => {
          const end = r.endedAt === null ? now : Date.parse(r.endedAt)
          const span = formatSpan(end - Date.parse(r.startedAt))
          return [
            r.runId,
            r.workflow.name,
            r.status,
            formatInstant(r.startedAt),
            r.endedAt === null ? `${span} so far` : span,
          ]
        })
        ctx.io.out.write(formatTable(['RUN', 'WORKFLOW', 'STATUS', 'STARTED', 'DURATION'], rows))
        if (page.nextCursor)
          ctx.io.err.write(`more: ${ctx.shiioo} runs list --cursor ${page.nextCursor}${dataDirArg}\n`)
      },
    )
  })

  withRemoteOptions(
    runs
      .command('show')
      .description("show a run: its status, and each step's status, attempts and errors")
      .argument('<run-id>', 'the run')
      .option('--json', 'print the run as JSON (its view: status, steps, decisions, payloads inline or by blob)'),
    QUIET,
  ).action(async (runId: string, options: JsonOption) => {
    await withSession(
      options,
      { create: false, readOnly: true, remote: true },
      async ({ services, caller, dataDirArg }) => {
        const run = await services.runs.get(caller, runId)
        ctx.io.out.write(options.json ? JSON.stringify(run) + '\n' : formatRunDetails(run, ctx.shiioo, dataDirArg))
      },
    )
  })

  withRemoteOptions(
    runs
      .command('state')
      .description('show the state of a run as of one of its events (time travel)')
      .argument('<run-id>', 'the run')
      .option('--at <seq>', 'the event sequence number to stop at (see `shiioo events`; default: the last)')
      .option('--json', 'print the state as JSON'),
    QUIET,
  ).action(async (runId: string, options: JsonOption & { at?: string }) => {
    await withSession(
      options,
      { create: false, readOnly: true, remote: true },
      async ({ services, caller, dataDirArg }) => {
        const r = services.runs
        const seq = options.at === undefined ? (await r.get(caller, runId)).lastSeq : wholeNumber(options.at, '--at', 1)
        const run = await r.stateAt(caller, runId, seq)
        ctx.io.out.write(options.json ? JSON.stringify(run) + '\n' : formatStateAt(run, ctx.shiioo, dataDirArg))
      },
    )
  })

  const steer = (
    name: 'cancel' | 'pause',
    description: string,
    act: (s: Session<RemoteServices>, runId: string, reason?: string) => Promise<RunView>,
  ) =>
    withRemoteOptions(
      runs
        .command(name)
        .description(description)
        .argument('<run-id>', 'the run')
        .option('--reason <text>', 'why, recorded with the event')
        .option('--json', 'print { runId, status } as JSON'),
      QUIET,
    ).action(async (runId: string, options: JsonOption & { reason?: string }) => {
      await withSession(options, { create: false, remote: true }, async (session) => {
        const run = await act(session, runId, options.reason)
        ctx.io.out.write(
          options.json
            ? JSON.stringify({ runId: run.runId, status: run.status }) + '\n'
            : `${run.runId} ${run.status}\n`,
        )
      })
    })
  steer('cancel', 'cancel a run: steps in flight are abandoned and nothing more starts', (s, id, reason) =>
    s.services.runs.cancel(s.caller, id, reason),
  )
  steer(
    'pause',
    'pause a run: steps in flight finish, nothing new starts until `shiioo runs resume`',
    (s, id, reason) => s.services.runs.pause(s.caller, id, reason),
  )

  withRemoteOptions(
    runs
      .command('resume')
      .description('resume a paused run (to continue every unfinished run after a restart, see `shiioo resume`)')
      .argument('<run-id>', 'the paused run')
      .option('--wait', 'then drive the run here and show its progress until it ends')
      .option('--json', 'print { runId, status } as JSON (with --wait: the outcome)'),
    QUIET,
  ).action(async (runId: string, options: JsonOption & { wait?: boolean }) => {
    await withSession(options, { create: false, remote: true }, async (session) => {
      const run = await session.services.runs.resumePaused(session.caller, runId)
      if (!options.wait) {
        if (options.json) ctx.io.out.write(JSON.stringify({ runId: run.runId, status: run.status }) + '\n')
        else {
          ctx.io.out.write(`${run.runId} ${run.status}\n`)
          ctx.io.err.write(
            session.server !== null
              ? `the server at ${session.server} drives it on\n`
              : `it continues in the process driving it, or with \`${ctx.shiioo} resume${session.dataDirArg}\`\n`,
          )
        }
        return
      }
      const outcomes = await watchRuns(
        ctx,
        session,
        [
          {
            runId: run.runId,
            fromSeq: run.lastSeq,
            startedAt: run.startedAt,
            decided: run.decisions.map((d) => (d.item === null ? d.stepId : `${d.stepId}[${d.item}]`)),
          },
        ],
        { prefix: false },
      )
      if (outcomes === null) return ctx.setExitCode(INTERRUPTED_EXIT_CODE)
      const outcome = outcomes[0]!
      if (options.json) ctx.io.out.write(JSON.stringify(outcome) + '\n')
      reportOutcome(ctx, outcome, session, !options.json)
      ctx.setExitCode(RUN_EXIT_CODES[outcome.status])
    })
  })
}
