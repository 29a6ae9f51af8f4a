import { describe, expect, it } from 'vitest'
import { formatUsd } from '../src/cli/format.js'

describe('formatUsd', () => {
  it('shows cents to four decimals and a fraction of a cent with two significant digits, never $0.0000', () => {
    expect(formatUsd(0.0064)).toBe('$0.0064')
    expect(formatUsd(12.5)).toBe('$12.5000')
    expect(formatUsd(0.0001)).toBe('$0.0001')
    expect(formatUsd(0.0000011)).toBe('$0.0000011')
    expect(formatUsd(0.000042)).toBe('$0.000042')
    expect(formatUsd(0)).toBe('$0')
  })
})
