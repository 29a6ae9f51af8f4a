import type { BlobStore, Json, StoredEvent } from '@shiioo/core'
import { resolvePayload } from './payloads.js'
import type { ExpressionScope } from '../evaluate.js'
import type { RunState } from './state.js'

/**
 * The JSON values a run's expressions read, resolved from the payloads in its events (inline or
 * blob). The driver fills it as steps complete (and from the log on recovery), so the scheduler
 * can evaluate conditions and templates synchronously.
 */
export class RunValues {
  readonly inputs: Record<string, Json>
  /** Completed steps' outputs, shaped as expressions read them: `steps.<id>.output`. */
  readonly steps: Record<string, { output: Json }> = Object.create(null) as Record<string, { output: Json }>
  private readonly items = new Map<string, Json>()
  private readonly lists = new Map<string, readonly Json[]>()
  private readonly eventPayloads = new Map<number, Json>()

  constructor(inputs: Record<string, Json>) {
    this.inputs = inputs
  }

  setStep(stepId: string, output: Json): void {
    Object.defineProperty(this.steps, stepId, {
      value: { output },
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  setItem(stepId: string, item: number, output: Json): void {
    this.items.set(`${stepId}#${item}`, output)
  }
  item(stepId: string, item: number): Json {
    return this.items.get(`${stepId}#${item}`) ?? null
  }
  /** A foreach step's list, as its step.started recorded it. */
  setList(stepId: string, list: readonly Json[]): void {
    this.lists.set(stepId, list)
  }
  list(stepId: string): readonly Json[] | undefined {
    return this.lists.get(stepId)
  }
  setEvent(seq: number, payload: Json): void {
    this.eventPayloads.set(seq, payload)
  }
  event(seq: number): Json {
    return this.eventPayloads.get(seq) ?? null
  }

  scope(state: RunState, item?: { item: Json; index: number }): ExpressionScope {
    const base = { inputs: this.inputs, steps: this.steps, run: { id: state.runId, startedAt: state.startedAt } }
    return item ? { ...base, item: item.item, index: item.index } : base
  }
}

/** The values a run's expressions read, resolved from its events' payloads. */
export async function loadRunValues(
  blobs: BlobStore,
  state: RunState,
  events: readonly StoredEvent[],
): Promise<RunValues> {
  const inputs = await resolvePayload(blobs, state.tenant, state.input)
  const values = new RunValues(inputs !== null && typeof inputs === 'object' && !Array.isArray(inputs) ? inputs : {})
  for (const e of events) await absorbEvent(blobs, values, state, e)
  return values
}

export async function absorbEvent(blobs: BlobStore, values: RunValues, state: RunState, e: StoredEvent): Promise<void> {
  switch (e.type) {
    case 'step.completed': {
      const v = await resolvePayload(blobs, state.tenant, e.data.output)
      if (e.data.item === undefined) values.setStep(e.data.stepId, v)
      else values.setItem(e.data.stepId, e.data.item, v)
      return
    }
    case 'step.started':
      if (e.data.item === undefined && e.data.input !== undefined) {
        const v = await resolvePayload(blobs, state.tenant, e.data.input)
        if (Array.isArray(v)) values.setList(e.data.stepId, v)
      }
      return
    case 'event.received':
      values.setEvent(e.seq, await resolvePayload(blobs, state.tenant, e.data.payload))
      return
    default:
      return
  }
}
