import type { Command } from 'commander'
import { ShiiooError, isShiiooError } from '@shiioo/core'
import { checkRunRequest } from '@shiioo/orchestrator'
import type { CommandContext } from './context.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withRemoteOptions } from './options.js'
import type { AgentTextPrinter } from './agent-text.js'
import { TextInterleave, startAgentText } from './agent-text.js'
import type { RemoteServices, Session } from './session.js'
import { collect, withSession } from './session.js'
import { INTERRUPTED_EXIT_CODE, RUN_EXIT_CODES, RUN_EXIT_HELP, reportOutcome, watchRuns } from './watch.js'
import { readWorkflowFile, siblingWorkflows } from './workflow-files.js'

interface RunOptions extends GlobalOptions {
  input: string[]
  idempotencyKey?: string
  detach?: boolean
  json?: boolean
  /** False with --no-agent-text. */
  agentText: boolean
}

/** `key=value` pairs; a value that parses as JSON is that JSON value, anything else a string. */
export function parseInputs(pairs: readonly string[]): Record<string, unknown> {
  const input: Record<string, unknown> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    const key = eq < 0 ? pair : pair.slice(0, eq)
    if (eq <= 0) throw new ShiiooError('INVALID_INPUT', `--input ${pair}: write it as key=value`)
    if (Object.prototype.hasOwnProperty.call(input, key)) {
      throw new ShiiooError('INVALID_INPUT', `--input ${key} is given twice`)
    }
    const text = pair.slice(eq + 1)
    let value: unknown = text
    try {
      value = JSON.parse(text)
    } catch {
      // not JSON: the text itself
    }
    Object.defineProperty(input, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return input
}

/** A bad-input error after `--input n=2` may mean text was wanted: say how values are read. */
export function hintJsonInputs(ctx: CommandContext, pairs: readonly string[], input: Record<string, unknown>): void {
  const key = Object.keys(input).find((k) => typeof input[k] !== 'string')
  if (key === undefined) return
  // the value as it was typed (re-serializing a value nested thousands deep would overflow the stack)
  const text = pairs.find((p) => p.startsWith(`${key}=`))?.slice(key.length + 1) ?? ''
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text
  ctx.io.err.write(
    `note: --input values that parse as JSON are taken as JSON (${key} is ${shown}); ` +
      `for text, quote it as JSON: --input ${key}='"${shown.replace(/'/g, '')}"'\n`,
  )
}

export function registerRun(program: Command, ctx: CommandContext): void {
  withRemoteOptions(
    program
      .command('run')
      .description('start a run of a workflow file and show its progress until it ends')
      .argument('<workflow-file>', 'a workflow definition, .yaml or .json')
      .option(
        '--input <key=value>',
        'a run input; the value is parsed as JSON when it parses, else taken as text (repeatable)',
        collect,
        [],
      )
      .option('--idempotency-key <key>', 'starting again with the same key returns the same run instead of a new one')
      .option('--detach', 'print the run id and exit; `shiioo resume` (or `shiioo serve`) drives the run on')
      .option('--json', 'print the outcome (or, with --detach, the started run) as JSON on stdout')
      .option('--no-agent-text', "do not print agents' text as the model produces it (the progress lines stay)")
      .addHelpText(
        'after',
        '\nThe other workflow files in the same directory are registered first, so sub-workflow steps find ' +
          'them by name.\nProgress goes to stderr; the run output goes to stdout.\n' +
          RUN_EXIT_HELP,
      ),
    QUIET,
  ).action(async (file: string, options: RunOptions) => {
    const input = parseInputs(options.input)
    const { path, source } = await readWorkflowFile(file, ctx.cwd)
    // bad input changes nothing: refused before the data dir is made or opened
    try {
      checkRunRequest(source, input)
    } catch (error) {
      if (isShiiooError(error) && error.code === 'INVALID_INPUT') hintJsonInputs(ctx, options.input, input)
      throw error
    }
    const workflows = await siblingWorkflows(path, ctx.cwd)
    await withSession(options, { create: true, remote: true }, async (session) => {
      const interleave = new TextInterleave(ctx.io.err)
      // listening before the run starts, so that its first words are not missed
      const text = options.detach || !options.agentText ? null : await startAgentText(session, interleave)
      try {
        await startAndWatch(session, interleave, text)
      } finally {
        text?.stop()
      }
    })

    async function startAndWatch(
      session: Session<RemoteServices>,
      interleave: TextInterleave,
      text: AgentTextPrinter | null,
    ): Promise<void> {
      const started = await session.services.runs
        .start(session.caller, {
          source,
          input,
          workflows,
          ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
        })
        .catch((error: unknown) => {
          if (isShiiooError(error) && error.code === 'INVALID_INPUT') hintJsonInputs(ctx, options.input, input)
          throw error
        })
      for (const w of started.warnings) ctx.io.err.write(`warning: ${w}\n`)
      const again = started.duplicate ? ' (the idempotency key names this existing run)' : ''
      if (options.detach) {
        if (options.json) {
          ctx.io.out.write(
            JSON.stringify({ runId: started.runId, workflow: started.workflow, duplicate: started.duplicate }) + '\n',
          )
        } else {
          ctx.io.out.write(`${started.runId}\n`)
          ctx.io.err.write(
            `started run ${started.runId} of ${started.workflow.name}${again}; ` +
              (session.server !== null
                ? `the server at ${session.server} drives it\n`
                : `it continues with \`${ctx.shiioo} resume${session.dataDirArg}\` or \`${ctx.shiioo} serve${session.dataDirArg}\`\n`),
          )
        }
        return
      }
      interleave.lines.write(`run ${started.runId} (workflow ${started.workflow.name})${again}\n`)
      text?.follow(started.runId)
      const outcomes = await watchRuns(ctx, session, [{ runId: started.runId, fromSeq: 1 }], {
        prefix: false,
        progress: interleave.lines,
        onStarted: (runId, unit, attempt) => interleave.started(runId, unit, attempt),
      })
      if (outcomes === null) return ctx.setExitCode(INTERRUPTED_EXIT_CODE)
      const outcome = outcomes[0]!
      if (options.json) ctx.io.out.write(JSON.stringify(outcome) + '\n')
      interleave.lines.write('')
      reportOutcome(ctx, outcome, session, !options.json)
      ctx.setExitCode(RUN_EXIT_CODES[outcome.status])
    }
  })
}
