import type { Actor, EventId, IdFactory, NewEvent, RunId } from '@shiioo/core'
import { createIdFactory, newEvent } from '@shiioo/core'

/** Builds valid events for tests: a run's lifecycle, or filler steps. */
export class EventFactory {
  readonly ids: IdFactory
  readonly actor: Actor = { kind: 'system', id: 'testkit' }
  private t: number

  constructor(start = Date.UTC(2026, 10, 24, 12, 0, 0)) {
    this.t = start
    this.ids = createIdFactory(() => this.t)
  }

  private meta(): { id: EventId; at: string; actor: Actor } {
    this.t += 1
    return { id: this.ids.eventId(), at: new Date(this.t).toISOString(), actor: this.actor }
  }

  runId(): RunId {
    return this.ids.runId()
  }

  runStarted(workflow = 'demo'): NewEvent {
    return newEvent('run.started', { workflow: { name: workflow, hash: 'ab'.repeat(32) } }, this.meta())
  }

  stepStarted(stepId: string, attempt = 1): NewEvent {
    return newEvent('step.started', { stepId, attempt, idempotencyKey: `${stepId}:${attempt}` }, this.meta())
  }

  stepCompleted(stepId: string, attempt = 1): NewEvent {
    return newEvent('step.completed', { stepId, attempt, output: { inline: { ok: true, stepId } } }, this.meta())
  }

  stepFailed(stepId: string, attempt = 1, willRetry = false): NewEvent {
    return newEvent(
      'step.failed',
      { stepId, attempt, willRetry, error: { code: 'TOOL_ERROR', message: `${stepId} broke`, retryable: willRetry } },
      this.meta(),
    )
  }

  runCompleted(): NewEvent {
    return newEvent('run.completed', {}, this.meta())
  }

  runFailed(stepId: string): NewEvent {
    return newEvent(
      'run.failed',
      { failedStep: stepId, error: { code: 'STEP_FAILED', message: 'boom', retryable: false } },
      this.meta(),
    )
  }

  runCancelled(reason = 'cancelled by test'): NewEvent {
    return newEvent('run.cancelled', { reason }, this.meta())
  }

  /** A whole run: started, n steps, and an ending chosen by `outcome`. */
  run(
    steps: number,
    outcome: 'completed' | 'failed' | 'cancelled' | 'running' = 'completed',
    workflow = 'demo',
  ): NewEvent[] {
    const events = [this.runStarted(workflow)]
    for (let i = 0; i < steps; i++) {
      const id = `s${i}`
      events.push(this.stepStarted(id))
      if (outcome === 'failed' && i === steps - 1)
        events.push(this.stepFailed(id, 1, true), this.stepStarted(id, 2), this.stepFailed(id, 2))
      else events.push(this.stepCompleted(id))
    }
    if (outcome === 'completed') events.push(this.runCompleted())
    if (outcome === 'failed') events.push(this.runFailed(`s${steps - 1}`))
    if (outcome === 'cancelled') events.push(this.runCancelled())
    return events
  }
}
