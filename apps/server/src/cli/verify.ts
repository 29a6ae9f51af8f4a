import type { Command } from 'commander'
import type { VerifyFindingView, VerifyProgressView } from '@shiioo/orchestrator'
import type { CommandContext } from './context.js'
import type { Output } from './io.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withGlobalOptions } from './options.js'
import type { Progress } from './progress.js'
import { createProgress } from './progress.js'
import { plural } from './format.js'
import { withSession } from './session.js'

interface VerifyOptions extends GlobalOptions {
  json?: boolean
}

export function describeFinding(f: VerifyFindingView): string {
  const seq = f.seq === undefined ? '' : ` seq ${f.seq}`
  const at = f.offset === undefined ? '' : ` at byte ${f.offset}`
  return `${f.kind} ${f.id} (tenant ${f.tenant})${seq}${at}: ${f.message}`
}

/** The number of streams and blobs is not known up front: a counter per phase. */
function phasedCounter(out: Output): { update(p: VerifyProgressView): void; finish(): void } {
  let phase: VerifyProgressView['phase'] | null = null
  let counter: Progress | null = null
  return {
    update(p) {
      if (p.phase !== phase) {
        counter?.finish()
        phase = p.phase
        counter = createProgress({ out, unit: p.phase, label: 'verifying' })
      }
      counter?.update(p.done, undefined)
    },
    finish: () => counter?.finish(),
  }
}

export function registerVerify(program: Command, ctx: CommandContext): void {
  withGlobalOptions(
    program
      .command('verify')
      .description('check every event stream and blob in the data dir; exit 1 when any record is bad')
      .option('--json', 'print the full report as JSON on stdout'),
    QUIET,
  ).action(async (options: VerifyOptions) => {
    await withSession(options, { create: false, indexOnDemand: true, readOnly: true }, async ({ services, caller }) => {
      const progress = phasedCounter(ctx.io.err)
      const report = await services.data.verify(caller, { onProgress: (p) => progress.update(p) })
      progress.finish()
      if (options.json) {
        ctx.io.out.write(JSON.stringify(report) + '\n')
      } else {
        for (const w of report.warnings) ctx.io.err.write(`warning: ${describeFinding(w)}\n`)
        const counts = `${plural(report.streams, 'stream')}, ${plural(report.events, 'event')}, ${plural(report.blobs, 'blob')}`
        const named = `the events name ${plural(report.referencedBlobs, 'blob')}`
        const first = report.problems[0]
        if (report.ok || first === undefined) {
          ctx.io.out.write(`ok: ${counts} verified; ${named}, all stored and whole\n`)
        } else {
          ctx.io.out.write(`first bad record: ${describeFinding(first)}\n`)
          ctx.io.out.write(`${plural(report.problems.length, 'problem')} found (checked ${counts}; ${named})\n`)
        }
      }
      if (!report.ok) ctx.setExitCode(1)
    })
  })
}
