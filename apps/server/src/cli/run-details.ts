import type { PayloadView, RunAtView, RunView, StepView, UnitView } from '@shiioo/orchestrator'
import { clip, formatInstant, formatSpan, formatTable } from './format.js'
import { decideCommand } from './run-progress.js'

const VALUE_WIDTH = 200

function compact(value: unknown): string {
  return clip(JSON.stringify(value) ?? 'null', VALUE_WIDTH)
}

function payload(p: PayloadView | null): string {
  if (p === null) return '-'
  if ('inline' in p) return compact(p.inline)
  return `(blob ${p.blob.slice(0, 12)}…, ${p.size} bytes)`
}

/** From `from` to `to`; an open span runs to `now` and says so. */
function span(from: string | null, to: string | null, now: number): string {
  if (from === null) return ''
  const end = to === null ? now : Date.parse(to)
  return formatSpan(end - Date.parse(from)) + (to === null ? ' so far' : '')
}

const OPEN: ReadonlySet<string> = new Set(['running', 'waiting', 'retrying'])

function unitDetail(
  runId: string,
  stepId: string,
  u: UnitView,
  item: number | undefined,
  shiioo: string,
  dataDirArg: string,
): string {
  switch (u.status) {
    case 'failed':
      return u.error ? `${u.error.code}: ${u.error.message}` : ''
    case 'retrying':
      return `${u.error ? `${u.error.code}: ${u.error.message}; ` : ''}retry at ${u.retryAt ?? 'once due'}`
    case 'skipped':
      return u.skipReason ?? ''
    case 'waiting':
      switch (u.wait?.for) {
        case 'approval':
          return `approval: ${decideCommand(shiioo, runId, stepId, item, dataDirArg)} (or reject)`
        case 'timer':
          return `timer until ${u.wait.until ?? '?'}`
        case 'event':
          return `event ${u.wait.event ?? '?'}: ${shiioo} signal ${runId} ${u.wait.event ?? '<event>'}${dataDirArg}`
        case 'child':
          return `child run ${u.wait.childRunId ?? '?'}`
        case undefined:
          return ''
      }
      return ''
    case 'completed':
      return u.reusedFrom ? `output reused from ${u.reusedFrom}` : ''
    case 'pending':
    case 'running':
      return ''
  }
}

function itemsDetail(items: readonly UnitView[]): string {
  const counts = new Map<string, number>()
  for (const u of items) counts.set(u.status, (counts.get(u.status) ?? 0) + 1)
  return `${items.length} items: ${[...counts].map(([status, n]) => `${n} ${status}`).join(', ')}`
}

function stepRow(
  run: RunView,
  s: StepView,
  withKind: boolean,
  shiioo: string,
  dataDirArg: string,
  now: number,
): string[] {
  const open = OPEN.has(s.status)
  const row = [
    s.stepId,
    s.status,
    String(s.attempts),
    open || s.endedAt !== null ? span(s.startedAt, open ? null : s.endedAt, now) : '',
  ]
  const detail =
    s.items && s.items.length > 0
      ? [
          itemsDetail(s.items),
          ...s.items.flatMap((u, i) => {
            const d = unitDetail(run.runId, s.stepId, u, i, shiioo, dataDirArg)
            return d && u.status !== 'completed' ? [`[${i}] ${d}`] : []
          }),
        ].join('; ')
      : unitDetail(run.runId, s.stepId, s, undefined, shiioo, dataDirArg)
  return withKind ? [row[0]!, kindOf(s), ...row.slice(1), detail] : [...row, detail]
}

function kindOf(s: StepView): string {
  if (s.kind === null) return '?'
  return s.itemKind === null ? s.kind : `${s.kind}/${s.itemKind}`
}

function header(pairs: ReadonlyArray<[string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n'
}

function why(run: RunView): string {
  if (run.reason) return `: ${run.reason}`
  if (run.status === 'failed' && run.error) return `: ${run.error.code}: ${run.error.message}`
  if (run.status === 'cancelled' && run.cancelReason) return `: ${run.cancelReason}`
  return ''
}

/** `shiioo runs show`: the run, then a table of every step of its definition in order. */
export function formatRunDetails(run: RunView, shiioo: string, dataDirArg: string): string {
  const definition = run.definitionStored
    ? `definition ${run.workflow.hash.slice(0, 12)}`
    : run.definitionProblem === 'damaged'
      ? 'definition damaged'
      : 'definition not stored'
  const pairs: Array<[string, string]> = [
    ['run', run.runId],
    ['workflow', `${run.workflow.name} (${definition})`],
    ['status', `${run.status}${why(run)}`],
    ['started', formatInstant(run.startedAt)],
  ]
  const now = Date.now()
  if (run.endedAt) pairs.push(['ended', `${formatInstant(run.endedAt)} (${span(run.startedAt, run.endedAt, now)})`])
  else pairs.push(['running', span(run.startedAt, null, now)])
  if (run.parent) pairs.push(['parent', `${run.parent.runId}${run.parent.stepId ? ` step ${run.parent.stepId}` : ''}`])
  if (run.forkOf) pairs.push(['forked', `from ${run.forkOf.runId} at step ${run.forkOf.fromStep}`])
  pairs.push(['events', String(run.lastSeq)])
  pairs.push(['input', payload(run.input)])
  if (run.status === 'completed') pairs.push(['output', payload(run.output)])
  const rows = run.steps.map((s) => stepRow(run, s, true, shiioo, dataDirArg, now))
  let text = header(pairs)
  if (!run.definitionStored) {
    const what =
      run.definitionProblem === 'damaged'
        ? 'is damaged (its blob no longer hashes to its key: `shiioo verify` names it)'
        : 'is not stored'
    text +=
      `\nnote: the workflow definition ${run.workflow.hash} ${what};` +
      ' the steps below are those its events name, without their kinds or the steps not yet started\n'
  }
  text += '\n' + formatTable(['STEP', 'KIND', 'STATUS', 'ATTEMPTS', 'DURATION', 'DETAIL'], rows, [3])
  if (run.decisions.length > 0) {
    text +=
      '\n' +
      run.decisions
        .map((d) => {
          const what = d.item === null ? d.stepId : `${d.stepId}[${d.item}]`
          const verb = d.decision === 'approve' ? 'approved' : 'rejected'
          return `${what} ${verb} by ${d.actor.id} at ${formatInstant(d.at)}${d.comment ? `: ${d.comment}` : ''}`
        })
        .join('\n') +
      '\n'
  }
  return text
}

/** `shiioo runs state --at`: the run as its first `asOf.seq` events left it. */
export function formatStateAt(run: RunAtView, shiioo: string, dataDirArg: string): string {
  const pairs: Array<[string, string]> = [
    ['run', run.runId],
    ['as of', `seq ${run.asOf.seq} (${formatInstant(run.asOf.at)})`],
    ['workflow', run.workflow.name],
    ['status', `${run.status}${why(run)}`],
  ]
  if (run.decisions.length > 0) {
    pairs.push([
      'decisions',
      run.decisions.map((d) => `${d.stepId}${d.item === null ? '' : `[${d.item}]`} ${d.decision}`).join(', '),
    ])
  }
  if (run.receivedEvents.length > 0) pairs.push(['events in', run.receivedEvents.map((e) => e.name).join(', ')])
  const rows = run.steps.map((s) => stepRow(run, s, false, shiioo, dataDirArg, Date.parse(run.asOf.at)))
  const table =
    rows.length === 0
      ? '(no step had started)\n'
      : formatTable(['STEP', 'STATUS', 'ATTEMPTS', 'DURATION', 'DETAIL'], rows, [2])
  return header(pairs) + '\n' + table
}

/** Each unit of the run that waits, with what ends the wait (the command to type, for a person or an event). */
export function waitingUnits(run: RunView, shiioo: string, dataDirArg: string): string[] {
  const out: string[] = []
  for (const s of run.steps) {
    const units: Array<[UnitView, number | undefined]> = s.items ? s.items.map((u, i) => [u, i]) : [[s, undefined]]
    for (const [u, item] of units) {
      if (u.status !== 'waiting') continue
      out.push(
        `${item === undefined ? s.stepId : `${s.stepId}[${item}]`} waits for ${unitDetail(run.runId, s.stepId, u, item, shiioo, dataDirArg)}`,
      )
    }
  }
  return out
}
