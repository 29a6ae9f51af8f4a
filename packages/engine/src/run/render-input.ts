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
      if (body.until !== undefined) return { until: evaluateTimestamp(body.until, scope) }
      return { until: now + (body.duration ?? 0) }
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

function asText(value: Json): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function errorAsShiioo(message: string): Error {
  return new ShiiooError('INVALID_INPUT', message)
}
