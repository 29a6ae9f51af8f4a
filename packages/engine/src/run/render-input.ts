import type { Json } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import { evaluateList, evaluateTimestamp, renderTemplate } from '../evaluate.js'
import type { Body } from './plan.js'
import type { RunValues } from './values.js'

/** What a step's attempt starts from, rendered against the scope. Throws INVALID_INPUT on a bad expression. */
export function renderInput(body: Body, scope: ReturnType<RunValues['scope']>, now: number): Json | undefined {
  switch (body.kind) {
    case 'agent':
      return asText(renderTemplate(body.prompt, scope))
    case 'approval':
      return asText(renderTemplate(body.prompt, scope))
    case 'tool':
    case 'subworkflow':
      return renderObject(body.input, scope)
    case 'transform':
      return renderTemplate(body.output, scope)
    case 'foreach':
      return evaluateList(body.items, scope)
    case 'wait':
      if (body.event !== undefined) return { event: body.event.name }
      if (body.until !== undefined) return { until: recordable(evaluateTimestamp(body.until, scope)) }
      return { until: recordable(now + (body.duration ?? 0)) }
  }
}

function renderObject(input: Json, scope: ReturnType<RunValues['scope']>): Json {
  const value = renderTemplate(input, scope)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw errorAsShiioo(
      `the input must yield an object, not ${Array.isArray(value) ? 'a list' : value === null ? 'null' : typeof value}`,
    )
  }
  return value
}

/** The instants an event can record: ISO-8601 with a four-digit year. */
const EARLIEST = Date.parse('0000-01-01T00:00:00.000Z')
const LATEST = Date.parse('9999-12-31T23:59:59.999Z')

function recordable(until: number): number {
  if (Number.isFinite(until) && until >= EARLIEST && until <= LATEST) return until
  const when = Number.isFinite(until) ? `at ${until} ms since 1970` : 'not a time'
  throw errorAsShiioo(`the wait ends ${when}, outside the years 0000-9999 an event can record`)
}

function asText(value: Json): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function errorAsShiioo(message: string): Error {
  return new ShiiooError('INVALID_INPUT', message)
}
