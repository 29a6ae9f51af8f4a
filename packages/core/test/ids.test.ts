import { describe, expect, it } from 'vitest'
import {
  createIdFactory,
  createUlidFactory,
  idTime,
  isStreamId,
  parseRunId,
  parseTenantId,
  ShiiooError,
} from '../src/index.js'

describe('ids', () => {
  it('mints time-ordered, strictly increasing ULIDs even within one millisecond', () => {
    const next = createUlidFactory(() => 1_700_000_000_000)
    const ids = Array.from({ length: 1000 }, next)
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(1000)
    expect(ids.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true)
  })

  it('encodes the mint time so a run id dates its own stream', () => {
    const t = Date.UTC(2026, 0, 7, 23, 59, 59, 123)
    const run = createIdFactory(() => t).runId()
    expect(run).toMatch(/^run_/)
    expect(idTime(run)).toBe(t)
  })

  it('rejects ids that could escape a folder or are not ids', () => {
    for (const bad of [
      '../run_01',
      'run_../../x',
      'run_' + '0'.repeat(25),
      'RUN_' + '0'.repeat(26),
      'run_' + 'U'.repeat(26),
      '',
    ]) {
      expect(() => parseRunId(bad)).toThrow(ShiiooError)
    }
    for (const bad of ['..', 'A', 'a/b', 'a'.repeat(64), '-x', 'x\0'])
      expect(() => parseTenantId(bad)).toThrow(/tenant/)
    expect(isStreamId('audit')).toBe(true)
    expect(isStreamId('config.roles')).toBe(true)
    expect(isStreamId('../audit')).toBe(false)
    expect(isStreamId('Audit')).toBe(false)
  })
})
