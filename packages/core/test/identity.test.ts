import { describe, expect, it } from 'vitest'
import type { NewEvent, StoredEvent, StreamId, TenantId } from '../src/index.js'
import { applyIdentityEvent, createIdFactory, emptyIdentityState, newEvent, validateNewEvent } from '../src/index.js'

const ids = createIdFactory(() => Date.UTC(2026, 11, 3))
const actor = { kind: 'user' as const, id: 'local:alice' }
const meta = () => ({ id: ids.eventId(), at: '2026-12-03T10:00:00.000Z', actor })
const PRN = 'prn_01ARZ3NDEKTSV4RRFFQ69G5FAV'
const TOK = 'tok_01ARZ3NDEKTSV4RRFFQ69G5FAV'
const HASH = 'ab'.repeat(32)

function stored(events: NewEvent[]): StoredEvent[] {
  return events.map((e, i) => ({ ...e, stream: 'identity' as StreamId, tenant: 'default' as TenantId, seq: i + 1 }))
}

describe('the identity fold', () => {
  const events = stored([
    newEvent('principal.created', { principalId: PRN, kind: 'agent', name: 'ci-bot', roles: ['operator'] }, meta()),
    newEvent(
      'token.created',
      { tokenId: TOK, principalId: PRN, name: 'ci', hash: HASH, prefix: 'shiioo_abcdefg', expiresAt: null },
      meta(),
    ),
    newEvent('roles.assigned', { principalId: PRN, roles: ['viewer', 'approver'] }, meta()),
    newEvent('token.revoked', { tokenId: TOK }, meta()),
    newEvent('principal.disabled', { principalId: PRN }, meta()),
  ])

  it('folds principals and tokens; an event seen twice is folded once', () => {
    const state = emptyIdentityState()
    for (const e of [...events, ...events]) applyIdentityEvent(state, e)
    expect(state.version).toBe(5)
    expect(state.names.get('ci-bot')).toBe(PRN)
    expect(state.principals.get(PRN)).toMatchObject({ roles: ['viewer', 'approver'], disabled: true, kind: 'agent' })
    expect(state.tokens.get(TOK)).toMatchObject({ hash: HASH, revokedAt: '2026-12-03T10:00:00.000Z' })
  })

  it('the schemas refuse an unknown role, a hash that is not sha256 hex, and a malformed id', () => {
    const bad = [
      { ...events[0]!, data: { principalId: PRN, kind: 'agent', name: 'x', roles: ['root'] } },
      { ...events[1]!, data: { ...(events[1]!.data as object), hash: 'shiioo_not_a_hash' } },
      { ...events[3]!, data: { tokenId: 'tok_1' } },
    ]
    for (const e of bad) expect(() => validateNewEvent(e)).toThrow(/INVALID|data|must|invalid/i)
    for (const e of events) expect(() => validateNewEvent(e)).not.toThrow()
  })
})
