import { describe, expect, it } from 'vitest'
import { rateLimitsOf, statusError } from '../src/providers/http.js'

describe("the vendors' rate-limit headers", () => {
  it('OpenAI: x-ratelimit-{limit,remaining,reset}-{requests,tokens}, resets as Go durations', () => {
    const h = new Headers({
      'x-ratelimit-limit-requests': '500',
      'x-ratelimit-remaining-requests': '499',
      'x-ratelimit-reset-requests': '1m0s',
      'x-ratelimit-limit-tokens': '30000',
      'x-ratelimit-remaining-tokens': '29000',
      'x-ratelimit-reset-tokens': '6s',
    })
    expect(rateLimitsOf(h)).toEqual({
      requests: { limit: 500, remaining: 499, resetMs: 60_000 },
      tokens: { limit: 30_000, remaining: 29_000, resetMs: 6000 },
    })
    expect(rateLimitsOf(new Headers({ 'x-ratelimit-reset-requests': '20ms' }))).toBeUndefined()
  })

  it('Anthropic: anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}, resets as RFC 3339 times', () => {
    const now = Date.parse('2027-01-05T10:00:00Z')
    const h = new Headers({
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '0',
      'anthropic-ratelimit-requests-reset': '2027-01-05T10:00:30Z',
      'anthropic-ratelimit-tokens-limit': '40000',
      'anthropic-ratelimit-tokens-remaining': '12000',
      'anthropic-ratelimit-tokens-reset': '2027-01-05T10:01:00Z',
    })
    expect(rateLimitsOf(h, now)).toEqual({
      requests: { limit: 50, remaining: 0, resetMs: 30_000 },
      tokens: { limit: 40_000, remaining: 12_000, resetMs: 60_000 },
    })
  })

  it('a 429 carries them in its details, with Retry-After; 401 and 403 are UNAUTHENTICATED', () => {
    const h = new Headers({
      'retry-after': '6',
      'x-ratelimit-limit-requests': '10',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '6s',
    })
    const e = statusError('openai', 429, 'Rate limit reached', h, [])
    expect(e.code).toBe('RATE_LIMITED')
    expect(e.details).toMatchObject({ retryAfterMs: 6000, rateLimits: { requests: { limit: 10, remaining: 0 } } })
    expect(statusError('openai', 401, 'bad key', new Headers(), []).code).toBe('UNAUTHENTICATED')
    expect(statusError('anthropic', 403, 'no permission', new Headers(), []).code).toBe('UNAUTHENTICATED')
  })
})
