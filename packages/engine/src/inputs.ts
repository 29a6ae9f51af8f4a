export const INPUT_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array'] as const
export type InputType = (typeof INPUT_TYPES)[number]

/** True when a JSON value has the declared input type (an integer is also a number). */
export function matchesInputType(type: InputType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string'
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value)
    case 'boolean':
      return typeof value === 'boolean'
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value)
    case 'array':
      return Array.isArray(value)
  }
}

/** A short description of a value's JSON type for messages: "a string", "an array", "null". */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return 'a string'
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number'
  if (typeof value === 'boolean') return 'a boolean'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}

export function article(type: InputType): string {
  return type === 'integer' || type === 'object' || type === 'array' ? `an ${type}` : `a ${type}`
}
