import type { Command } from 'commander'
import type { Json } from '@shiioo/core'
import { DEFAULT_TENANT, ShiiooError, isShiiooError, parseTenantId } from '@shiioo/core'
import type { ToolView } from '@shiioo/orchestrator'
import type { CommandContext } from './context.js'
import { clip, formatTable } from './format.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withRemoteOptions } from './options.js'
import { hintJsonInputs, parseInputs } from './run.js'
import { collect, withSession } from './session.js'
import { onInterrupt } from './shutdown.js'
import { INTERRUPTED_EXIT_CODE } from './watch.js'

interface ToolsOptions extends GlobalOptions {
  tenant: string
  json?: boolean
}

interface CallOptions extends ToolsOptions {
  input: string[]
  inputJson?: string
  idempotencyKey?: string
}

const TENANT_HELP = 'the tenant whose tools to use (the one you act in)'
const READ_ONLY = { create: false, indexOnDemand: true, readOnly: true } as const
/** A tool call calls no model: it needs no capacity source's key (its audit entry is a write). */
const CHANGE = { create: false, indexOnDemand: true, drivesRuns: false } as const
/** The description column's width when the terminal's is not known. */
const DESCRIPTION_WIDTH = 60

/** What a tool does to the world, in a word: `world` (reaches outside Shiioo), `read-only` or `changes`. */
export function accessOf(tool: ToolView): string {
  if (tool.annotations.openWorld) return 'world'
  return tool.annotations.readOnly ? 'read-only' : 'changes'
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!.trim()
}

/** The tool's input from `--input-json` (an object) and `--input key=value` pairs (fields added to it). */
function inputOf(options: CallOptions): Record<string, unknown> {
  const pairs = parseInputs(options.input)
  if (options.inputJson === undefined) return pairs
  let parsed: unknown
  try {
    parsed = JSON.parse(options.inputJson)
  } catch (error) {
    throw new ShiiooError('INVALID_INPUT', `--input-json is not JSON: ${(error as Error).message}`, {
      details: { field: '--input-json' },
    })
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ShiiooError('INVALID_INPUT', '--input-json must be a JSON object, such as \'{"runId": "run_..."}\'', {
      details: { field: '--input-json' },
    })
  }
  const input = parsed as Record<string, unknown>
  for (const key of Object.keys(pairs)) {
    if (Object.prototype.hasOwnProperty.call(input, key)) {
      throw new ShiiooError('INVALID_INPUT', `--input ${key} is also in --input-json: give it once`, {
        details: { field: '--input' },
      })
    }
    Object.defineProperty(input, key, { value: pairs[key], enumerable: true, writable: true, configurable: true })
  }
  return input
}

export function registerTools(program: Command, ctx: CommandContext): void {
  const tools = program
    .command('tools')
    .description('list and call the tools of the catalog (built-in, Shiioo’s own, external MCP servers’)')

  withRemoteOptions(
    tools
      .command('list')
      .description('list the tools you may call, by name')
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print the tools as a JSON array, input schemas included'),
    QUIET,
  ).action(async (options: ToolsOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    await withSession(options, { ...READ_ONLY, tenant, remote: true }, async ({ services, caller }) => {
      const list = await services.tools.list(caller)
      if (options.json) {
        ctx.io.out.write(JSON.stringify(list) + '\n')
        return
      }
      if (list.length === 0) {
        ctx.io.err.write('no tools: your roles grant none\n')
        return
      }
      // the description fills what the other columns leave of the terminal's width
      const widest = (cells: string[]) => Math.max(...cells.map((c) => c.length))
      const others = widest(list.map((t) => t.name)) + widest(list.map((t) => t.source)) + 'read-only'.length + 3 * 2
      const width = ctx.io.out.columns ? Math.max(20, ctx.io.out.columns - others) : DESCRIPTION_WIDTH
      const rows = list.map((t) => [t.name, t.source, accessOf(t), clip(firstLine(t.description), width)])
      ctx.io.out.write(formatTable(['NAME', 'SOURCE', 'ACCESS', 'DESCRIPTION'], rows))
    })
  })

  withRemoteOptions(
    tools
      .command('call')
      .description('call a tool as you and print its output as JSON on stdout')
      .argument('<name>', 'the tool, e.g. core.echo or shiioo.runs.get (see `shiioo tools list`)')
      .option(
        '--input <key=value>',
        'an input field; the value is parsed as JSON when it parses, else taken as text (repeatable)',
        collect,
        [],
      )
      .option('--input-json <json>', 'the whole input as a JSON object (--input fields are added to it)')
      .option('--idempotency-key <key>', 'the same key for a retried call: tools with side effects do it once')
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print { tool, output } on one line')
      .addHelpText(
        'after',
        '\nThe input is checked against the tool’s input schema (`shiioo tools list --json` shows it).\n' +
          'Exit codes: 0 the tool answered, 2 bad input, 1 any other failure, 130 interrupted.',
      ),
    QUIET,
  ).action(async (name: string, options: CallOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    const input = inputOf(options)
    const interrupt = onInterrupt()
    const stop = new AbortController()
    void interrupt.signalled.then(() => stop.abort())
    try {
      await withSession(options, { ...CHANGE, tenant, remote: true }, async ({ services, caller }) => {
        const output = await services.tools.call(caller, {
          name,
          input: input as Json,
          ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
          signal: stop.signal,
        })
        ctx.io.out.write(
          options.json ? JSON.stringify({ tool: name, output }) + '\n' : JSON.stringify(output, null, 2) + '\n',
        )
      })
    } catch (error) {
      if (stop.signal.aborted) {
        ctx.io.err.write(`interrupted: the call of ${name} was stopped\n`)
        return ctx.setExitCode(INTERRUPTED_EXIT_CODE)
      }
      if (isShiiooError(error) && error.code === 'INVALID_INPUT') {
        hintJsonInputs(ctx, options.input, parseInputs(options.input))
      }
      throw error
    } finally {
      interrupt.dispose()
    }
  })
}
