import type { Command } from 'commander'
import { DEFAULT_TENANT, parseTenantId } from '@shiioo/core'
import type { AuditEntryView } from '@shiioo/orchestrator'
import { shellWord } from './command-line.js'
import type { CommandContext } from './context.js'
import { clip, formatInstant, formatTable } from './format.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withRemoteOptions } from './options.js'
import { wholeNumber } from './runs.js'
import { withSession } from './session.js'

interface AuditOptions extends GlobalOptions {
  tenant: string
  json?: boolean
}

interface ListOptions extends AuditOptions {
  action?: string
  actor?: string
  since?: string
  before?: string
  limit?: string
}

const TENANT_HELP = 'the tenant whose audit chain to read (the one you act in)'
const READ_ONLY = { create: false, indexOnDemand: true, readOnly: true } as const

function subject(e: AuditEntryView): string {
  return e.subject.id === null ? e.subject.kind : `${e.subject.kind} ${e.subject.id}`
}

function outcome(e: AuditEntryView): string {
  return e.outcome.status === 'ok' ? 'ok' : `${e.outcome.status} ${e.outcome.code}`
}

/** ` --tenant <t>` when not the default, so a printed command reads the same chain. */
function tenantArg(tenant: string): string {
  return tenant === DEFAULT_TENANT ? '' : ` --tenant ${shellWord(tenant)}`
}

export function registerAudit(program: Command, ctx: CommandContext): void {
  const audit = program.command('audit').description("list, check and export a tenant's audit chain")

  withRemoteOptions(
    audit
      .command('list')
      .description('list audit entries, newest first: every change, refusal and approval decision')
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--action <action>', 'only entries of this action, e.g. run.start or run.decide')
      .option('--actor <id>', 'only entries of this actor, e.g. local:alice')
      .option('--since <instant>', 'only entries at or after this ISO-8601 date or instant')
      .option('--before <seq>', 'only entries before this seq (the next page, from a previous listing)')
      .option('--limit <n>', 'at most this many entries, 1-1000 (default 100)')
      .option('--json', 'print the page as JSON: { items, nextBefore }, each entry as stored and hashed'),
    QUIET,
  ).action(async (options: ListOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    await withSession(options, { ...READ_ONLY, tenant, remote: true }, async ({ services, caller, dataDirArg }) => {
      const page = await services.audit.list(caller, {
        ...(options.action === undefined ? {} : { action: options.action }),
        ...(options.actor === undefined ? {} : { actor: options.actor }),
        ...(options.since === undefined ? {} : { since: options.since }),
        ...(options.before === undefined ? {} : { before: wholeNumber(options.before, '--before', 1) }),
        ...(options.limit === undefined ? {} : { limit: wholeNumber(options.limit, '--limit', 1) }),
      })
      if (options.json) {
        ctx.io.out.write(JSON.stringify(page) + '\n')
        return
      }
      if (page.items.length === 0) {
        ctx.io.err.write('no audit entries\n')
        return
      }
      const rows = page.items.map((e) => [
        String(e.seq),
        formatInstant(e.at),
        e.actor.id,
        e.action,
        subject(e),
        outcome(e),
        clip(JSON.stringify(e.details), 80),
      ])
      ctx.io.out.write(formatTable(['SEQ', 'TIME', 'ACTOR', 'ACTION', 'SUBJECT', 'OUTCOME', 'DETAILS'], rows, [0]))
      if (page.nextBefore !== null) {
        const filters = ['action', 'actor', 'since', 'limit']
          .filter((k) => options[k as keyof ListOptions] !== undefined)
          .map((k) => ` --${k} ${shellWord(String(options[k as keyof ListOptions]))}`)
          .join('')
        ctx.io.err.write(
          `more: ${ctx.shiioo} audit list --before ${page.nextBefore}${filters}${tenantArg(tenant)}${dataDirArg}\n`,
        )
      }
    })
  })

  withRemoteOptions(
    audit
      .command('verify')
      .description(
        "check every entry's hash and link, and that no acknowledged entry is missing; exit 1 naming the first bad entry",
      )
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print the report as JSON: { tenant, ok, entries, head, firstBad }'),
    QUIET,
  ).action(async (options: AuditOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    await withSession(options, { ...READ_ONLY, tenant, remote: true }, async ({ services, caller }) => {
      const report = await services.audit.verify(caller)
      if (options.json) {
        ctx.io.out.write(JSON.stringify(report) + '\n')
      } else if (report.firstBad === null) {
        const head = report.head === null ? 'no entries yet' : `head seq ${report.head.seq} hash ${report.head.hash}`
        ctx.io.out.write(
          `ok: the audit chain of tenant ${report.tenant} holds ${report.entries} ${report.entries === 1 ? 'entry' : 'entries'}; ${head}\n`,
        )
      } else {
        ctx.io.out.write(`first bad entry: seq ${report.firstBad.seq}: ${report.firstBad.message}\n`)
        ctx.io.out.write(`the audit chain of tenant ${report.tenant} checks out up to seq ${report.head?.seq ?? 0}\n`)
      }
      if (!report.ok) ctx.setExitCode(1)
    })
  })

  withRemoteOptions(
    audit
      .command('export')
      .description('print every audit entry, oldest first, as JSON lines (as stored and hashed, for a SIEM)')
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT),
    QUIET,
  ).action(async (options: AuditOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    await withSession(options, { ...READ_ONLY, tenant, remote: true }, async ({ services, caller }) => {
      for await (const e of await services.audit.export(caller)) ctx.io.out.write(JSON.stringify(e) + '\n')
    })
  })
}
