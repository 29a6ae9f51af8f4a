import { ShiiooError } from './errors.js'

/**
 * JSON with object keys sorted by UTF-16 code units and no whitespace; strings and numbers as
 * JSON.stringify writes them (RFC 8785, JCS, for the values an audit entry holds: strings, finite
 * numbers, booleans, null, arrays and plain objects). Object members whose value is undefined are
 * left out, as JSON.stringify leaves them out; anything else with no JSON form is refused.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new ShiiooError('INVALID_INPUT', `${value} has no canonical JSON encoding`)
    }
    const text = JSON.stringify(value)
    if (text === undefined) throw new ShiiooError('INVALID_INPUT', `a ${typeof value} has no JSON encoding`)
    return text
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}
