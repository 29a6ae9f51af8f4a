import type { CostDimension } from '@shiioo/core'
import { COST_DIMENSIONS, ShiiooError } from '@shiioo/core'
import type { Command } from 'commander'
import type { CommandContext } from './context.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withRemoteOptions } from './options.js'
import { withSession } from './session.js'
import { formatUsd } from './format.js'

interface CostsOptions extends GlobalOptions {
  by: string
  since?: string
  before?: string
  run?: string
  json?: boolean
}

const SPAN = /^(\d+)(m|h|d)$/
const SPAN_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `24h`, `7d`, `30m` back from now, or an ISO instant. */
function instant(value: string, flag: string, now: number): string {
  const span = SPAN.exec(value)
  if (span) return new Date(now - Number(span[1]) * SPAN_MS[span[2] as keyof typeof SPAN_MS]).toISOString()
  if (Number.isFinite(Date.parse(value))) return new Date(Date.parse(value)).toISOString()
  throw new ShiiooError('INVALID_INPUT', `${flag} must be a span like 30m, 24h or 7d, or an ISO time (got "${value}")`)
}

export function registerCosts(program: Command, ctx: CommandContext): void {
  withRemoteOptions(
    program
      .command('costs')
      .description('the cost ledger: model calls, tokens and cost of agent steps, grouped and filtered by time')
      .option('--by <dimension>', `group by ${COST_DIMENSIONS.join(', ')}`, 'workflow')
      .option('--since <when>', 'only calls since then: 30m, 24h, 7d or an ISO time')
      .option('--before <when>', 'only calls before then')
      .option('--run <run-id>', "only this run's calls")
      .option('--json', 'print the rows as JSON'),
    QUIET,
  ).action(async (options: CostsOptions) => {
    if (!(COST_DIMENSIONS as readonly string[]).includes(options.by)) {
      throw new ShiiooError('INVALID_INPUT', `--by must be one of ${COST_DIMENSIONS.join(', ')} (got "${options.by}")`)
    }
    const now = Date.now()
    await withSession(options, { create: false, readOnly: true, remote: true }, async ({ services, caller }) => {
      const rows = await services.runs.costs(caller, {
        by: options.by as CostDimension,
        ...(options.since ? { from: instant(options.since, '--since', now) } : {}),
        ...(options.before ? { before: instant(options.before, '--before', now) } : {}),
        ...(options.run ? { runId: options.run } : {}),
      })
      if (options.json) {
        ctx.io.out.write(JSON.stringify(rows) + '\n')
        return
      }
      if (rows.length === 0) {
        ctx.io.out.write('no model calls recorded for that selection\n')
        return
      }
      const header = [options.by.toUpperCase(), 'CALLS', 'INPUT', 'OUTPUT', 'COST']
      const table = rows.map((r) => [
        r.key,
        String(r.calls),
        String(r.inputTokens),
        String(r.outputTokens),
        formatUsd(r.cost),
      ])
      const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)))
      for (const row of [header, ...table]) {
        ctx.io.out.write(row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ') + '\n')
      }
    })
  })
}
