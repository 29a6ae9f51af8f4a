import type { EventView } from '@shiioo/orchestrator'
import { formatSpan, formatUsd } from './format.js'
import type { Output } from './io.js'

export interface RunProgressOptions {
  out: Output
  /** When the run started (the elapsed times count from it); taken from run.started when seen. */
  startedAt?: string
  /** Put before every line, to tell runs apart when several are followed at once. */
  prefix?: string
  /** How printed commands start (`shiioo`, `npx shiioo`, ...: CommandContext.shiioo). */
  shiioo: string
  /** Appended to printed `shiioo` commands (e.g. ` --data-dir /x`). */
  dataDirArg?: string
  /** Approval units (`step` or `step[item]`) decided before the first event shown. */
  decided?: Iterable<string>
  /** Told after a step's `started` line is printed (so the agent's live text can follow it). */
  onStarted?: (unit: string, attempt: number) => void
}

/** `+0.12s`, `+1m05s`: the time since the run started. */
function elapsed(ms: number): string {
  return `+${formatSpan(ms).replace(' ', '')}`
}

function unit(stepId: string, item: number | undefined): string {
  return item === undefined ? stepId : `${stepId}[${item}]`
}

/** The command that decides an approval step, as a person would type it in another terminal. */
export function decideCommand(
  shiioo: string,
  runId: string,
  stepId: string,
  item: number | undefined,
  dataDirArg = '',
): string {
  return `${shiioo} decide ${runId} ${stepId} approve${item === undefined ? '' : ` --item ${item}`}${dataDirArg}`
}

/**
 * Prints a run's progress as its events arrive: one line per step transition with the time since
 * the run started, and for a step that waits on a person or an event the exact command that ends
 * the wait.
 */
export function createRunProgress(runId: string, options: RunProgressOptions) {
  let origin = options.startedAt === undefined ? null : Date.parse(options.startedAt)
  const began = new Map<string, number>()
  // a decision may come before its step waits: then the wait ends at once and needs no hint
  const decided = new Set(options.decided)
  const prefix = options.prefix ?? ''
  const { shiioo } = options
  const dataDirArg = options.dataDirArg ?? ''
  const line = (at: string, text: string) => {
    const t = Date.parse(at)
    origin ??= t
    options.out.write(`${prefix}${elapsed(t - origin).padStart(8)}  ${text}\n`)
  }
  const note = (text: string) => options.out.write(`${prefix}${' '.repeat(10)}${text}\n`)

  const show = (e: EventView): void => {
    switch (e.type) {
      case 'run.started':
        origin = Date.parse(e.at)
        line(e.at, `run started: workflow ${e.data.workflow.name}`)
        if (e.data.forkOf) note(`forked from ${e.data.forkOf.runId} at step ${e.data.forkOf.fromStep}`)
        return
      case 'step.started': {
        const name = unit(e.data.stepId, e.data.item)
        began.set(name, Date.parse(e.at))
        line(e.at, `${name} started${e.data.attempt > 1 ? ` (attempt ${e.data.attempt})` : ''}`)
        options.onStarted?.(name, e.data.attempt)
        return
      }
      case 'step.completed': {
        const name = unit(e.data.stepId, e.data.item)
        const from = began.get(name)
        const took = from === undefined ? '' : ` in ${formatSpan(Date.parse(e.at) - from)}`
        const reused = e.data.reusedFrom ? ` (output reused from ${e.data.reusedFrom})` : ''
        line(e.at, `${name} completed${took}${reused}`)
        return
      }
      case 'step.failed': {
        const name = unit(e.data.stepId, e.data.item)
        const why = `${e.data.error.code}: ${e.data.error.message}`
        const retry = e.data.willRetry ? `; retrying${e.data.retryAt ? ` at ${e.data.retryAt}` : ''}` : ''
        line(e.at, `${name} failed (attempt ${e.data.attempt}): ${why}${retry}`)
        return
      }
      case 'step.skipped':
        line(e.at, `${unit(e.data.stepId, e.data.item)} skipped: ${e.data.reason}`)
        return
      case 'step.waiting': {
        const name = unit(e.data.stepId, e.data.item)
        switch (e.data.for) {
          case 'approval':
            line(e.at, `${name} waiting for approval${decided.has(name) ? ' (already decided)' : ''}`)
            if (decided.has(name)) return
            for (const l of (e.data.prompt ?? '').trim().split('\n').slice(0, 6)) if (l) note(`| ${l}`)
            note(
              `decide from another terminal: ${decideCommand(shiioo, runId, e.data.stepId, e.data.item, dataDirArg)}`,
            )
            note('(or reject; add --comment "..." to say why)')
            return
          case 'timer':
            line(e.at, `${name} waiting until ${e.data.until ?? 'its timer'}`)
            return
          case 'event':
            line(e.at, `${name} waiting for event ${e.data.event ?? ''}`)
            note(`send it from another terminal: ${shiioo} signal ${runId} ${e.data.event ?? '<event>'}${dataDirArg}`)
            return
          case 'child':
            line(e.at, `${name} waiting for child run ${e.data.childRunId ?? ''}`)
            return
        }
        return
      }
      case 'agent.turn': {
        const name = unit(e.data.stepId, e.data.item)
        const tokens = `${e.data.usage.inputTokens}+${e.data.usage.outputTokens} tokens`
        const cost = e.data.cost > 0 ? `, ${formatUsd(e.data.cost)}` : ''
        line(e.at, `${name} turn ${e.data.turn}: ${e.data.model} via ${e.data.source} (${tokens}${cost})`)
        return
      }
      case 'agent.tool': {
        const name = unit(e.data.stepId, e.data.item)
        const how = e.data.error ? `failed: ${e.data.error.code}: ${e.data.error.message}` : 'ok'
        line(
          e.at,
          `${name} turn ${e.data.turn} called ${e.data.tool}: ${how.length > 160 ? `${how.slice(0, 157)}...` : how}`,
        )
        return
      }
      case 'agent.queued': {
        const name = unit(e.data.stepId, e.data.item)
        line(
          e.at,
          e.data.state === 'waiting'
            ? `${name} turn ${e.data.turn} waiting for capacity (not counted against its timeout)`
            : `${name} turn ${e.data.turn} admitted`,
        )
        return
      }
      case 'approval.decided': {
        const name = unit(e.data.stepId, e.data.item)
        decided.add(name)
        const verb = e.data.decision === 'approve' ? 'approved' : 'rejected'
        line(e.at, `${name} ${verb} by ${e.actor.id}${e.data.comment ? `: ${e.data.comment}` : ''}`)
        return
      }
      case 'event.received':
        line(e.at, `event ${e.data.name} received from ${e.actor.id}`)
        return
      case 'run.paused':
        line(e.at, `run paused by ${e.actor.id}${e.data.reason ? `: ${e.data.reason}` : ''}`)
        note(`resume it with: ${shiioo} runs resume ${runId}${dataDirArg}`)
        return
      case 'run.resumed':
        line(e.at, `run resumed by ${e.actor.id}`)
        return
      case 'run.completed':
        line(e.at, 'run completed')
        return
      case 'run.failed':
        line(
          e.at,
          `run failed${e.data.failedStep ? ` at step ${e.data.failedStep}` : ''}: ${e.data.error.code}: ${e.data.error.message}`,
        )
        return
      case 'run.cancelled':
        line(e.at, `run cancelled by ${e.actor.id}: ${e.data.reason}`)
        return
      case 'idempotency.claimed':
      case 'workflow.registered':
      case 'audit.recorded':
      case 'principal.created':
      case 'roles.assigned':
      case 'principal.disabled':
      case 'token.created':
      case 'token.revoked':
        return
    }
  }
  return {
    onEvents(events: readonly EventView[]): void {
      for (const e of events) show(e)
    },
  }
}
