import type { Payload } from '@shiioo/core'
import type { RunDetails, RunState, StepDefinition, StepState, UnitState } from '@shiioo/orchestrator'
import { clip, formatInstant, formatSpan, formatTable } from './format.js'
import { decideCommand } from './run-progress.js'

const VALUE_WIDTH = 200

function compact(value: unknown): string {
  return clip(JSON.stringify(value) ?? 'null', VALUE_WIDTH)
}

function payload(p: Payload | null): string {
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
  u: UnitState,
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

function itemsDetail(items: readonly UnitState[]): string {
  const counts = new Map<string, number>()
  for (const u of items) counts.set(u.status, (counts.get(u.status) ?? 0) + 1)
  return `${items.length} items: ${[...counts].map(([status, n]) => `${n} ${status}`).join(', ')}`
}

function stepRow(
  state: RunState,
  stepId: string,
  s: StepState | undefined,
  kind: string | null,
  shiioo: string,
  dataDirArg: string,
  now: number,
): string[] {
  const status = s?.status ?? 'pending'
  const open = OPEN.has(status)
  const row = [
    stepId,
    status,
    String(s?.attempt ?? 0),
    s && (open || s.endedAt !== null) ? span(s.startedAt, open ? null : s.endedAt, now) : '',
  ]
  const detail = !s
    ? ''
    : s.items && s.items.length > 0
      ? [
          itemsDetail(s.items),
          ...s.items.flatMap((u, i) => {
            const d = unitDetail(state.runId, stepId, u, i, shiioo, dataDirArg)
            return d && u.status !== 'completed' ? [`[${i}] ${d}`] : []
          }),
        ].join('; ')
      : unitDetail(state.runId, stepId, s, undefined, shiioo, dataDirArg)
  return kind === null ? [...row, detail] : [row[0]!, kind, ...row.slice(1), detail]
}

function kindOf(step: StepDefinition): string {
  return step.kind === 'foreach' ? `foreach/${step.step.kind}` : step.kind
}

function header(pairs: ReadonlyArray<[string, string]>): string {
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n'
}

function why(state: RunState, reason: string | null): string {
  if (reason) return `: ${reason}`
  if (state.status === 'failed' && state.error) return `: ${state.error.code}: ${state.error.message}`
  if (state.status === 'cancelled' && state.cancelReason) return `: ${state.cancelReason}`
  return ''
}

/** `shiioo runs show`: the run, then a table of every step of its definition in order. */
export function formatRunDetails(details: RunDetails, shiioo: string, dataDirArg: string): string {
  const { state, definition, summary } = details
  const pairs: Array<[string, string]> = [
    ['run', state.runId],
    ['workflow', `${state.workflow.name} (definition ${state.workflow.hash.slice(0, 12)})`],
    ['status', `${state.status}${why(state, summary?.reason ?? null)}`],
    ['started', formatInstant(state.startedAt)],
  ]
  const now = Date.now()
  if (state.endedAt)
    pairs.push(['ended', `${formatInstant(state.endedAt)} (${span(state.startedAt, state.endedAt, now)})`])
  else pairs.push(['running', span(state.startedAt, null, now)])
  if (state.parent)
    pairs.push(['parent', `${state.parent.runId}${state.parent.stepId ? ` step ${state.parent.stepId}` : ''}`])
  if (state.forkOf) pairs.push(['forked', `from ${state.forkOf.runId} at step ${state.forkOf.fromStep}`])
  pairs.push(['events', String(state.version)])
  pairs.push(['input', payload(state.input)])
  if (state.status === 'completed') pairs.push(['output', compact(details.output)])
  const rows = definition.steps.map((step) =>
    stepRow(state, step.id, state.steps[step.id], kindOf(step), shiioo, dataDirArg, now),
  )
  let text = header(pairs) + '\n' + formatTable(['STEP', 'KIND', 'STATUS', 'ATTEMPTS', 'DURATION', 'DETAIL'], rows, [3])
  if (state.decisions.length > 0) {
    text +=
      '\n' +
      state.decisions
        .map((d) => {
          const what = d.item === undefined ? d.stepId : `${d.stepId}[${d.item}]`
          const verb = d.decision === 'approve' ? 'approved' : 'rejected'
          return `${what} ${verb} by ${d.actor.id} at ${formatInstant(d.at)}${d.comment ? `: ${d.comment}` : ''}`
        })
        .join('\n') +
      '\n'
  }
  return text
}

/** `shiioo runs state --at`: the run as its first `version` events left it. */
export function formatStateAt(state: RunState, shiioo: string, dataDirArg: string): string {
  const pairs: Array<[string, string]> = [
    ['run', state.runId],
    ['as of', `seq ${state.version} (${formatInstant(state.updatedAt)})`],
    ['workflow', state.workflow.name],
    ['status', `${state.status}${why(state, null)}`],
  ]
  if (state.decisions.length > 0) {
    pairs.push([
      'decisions',
      state.decisions.map((d) => `${d.stepId}${d.item === undefined ? '' : `[${d.item}]`} ${d.decision}`).join(', '),
    ])
  }
  if (state.events.length > 0) pairs.push(['events in', state.events.map((e) => e.name).join(', ')])
  const rows = Object.entries(state.steps).map(([id, s]) =>
    stepRow(state, id, s, null, shiioo, dataDirArg, Date.parse(state.updatedAt)),
  )
  const table =
    rows.length === 0
      ? '(no step had started)\n'
      : formatTable(['STEP', 'STATUS', 'ATTEMPTS', 'DURATION', 'DETAIL'], rows, [2])
  return header(pairs) + '\n' + table
}

/** Each unit of the run that waits, with what ends the wait (the command to type, for a person or an event). */
export function waitingUnits(state: RunState, shiioo: string, dataDirArg: string): string[] {
  const out: string[] = []
  for (const [stepId, s] of Object.entries(state.steps)) {
    const units: Array<[UnitState, number | undefined]> = s.items ? s.items.map((u, i) => [u, i]) : [[s, undefined]]
    for (const [u, item] of units) {
      if (u.status !== 'waiting') continue
      out.push(
        `${item === undefined ? stepId : `${stepId}[${item}]`} waits for ${unitDetail(state.runId, stepId, u, item, shiioo, dataDirArg)}`,
      )
    }
  }
  return out
}
