import { describe, expect, it } from 'vitest'
import { formatDuration, MAX_DURATION_MS, parseDuration, tryParseDuration } from '../src/index.js'

describe('durations', () => {
  it('parses each unit and plain milliseconds', () => {
    expect(['500ms', '30s', '5m', '2h', '1d', 0, 1500].map((d) => parseDuration(d))).toEqual([
      500, 30_000, 300_000, 7_200_000, 86_400_000, 0, 1500,
    ])
  })

  it('rejects other forms', () => {
    for (const bad of ['1.5s', '1h30m', '5 m', '-1s', '01s', '1w', '', -1, 1.5, MAX_DURATION_MS + 1, '367d']) {
      expect(tryParseDuration(bad)).toBeUndefined()
    }
    expect(() => parseDuration('soon')).toThrow('"soon" is not valid: a duration is a whole number with a unit')
  })

  it('formats with the largest whole unit', () => {
    expect([0, 1, 1000, 90_000, 7_200_000, 86_400_000, 1500].map(formatDuration)).toEqual([
      '0ms',
      '1ms',
      '1s',
      '90s',
      '2h',
      '1d',
      '1500ms',
    ])
  })
})
