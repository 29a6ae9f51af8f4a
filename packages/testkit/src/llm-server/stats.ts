import { peaks } from './limits.js'
import type { WindowEntry } from './limits.js'
import type { LlmMinuteStats, LlmServerStats, RecordedLlmRequest } from './types.js'

export function serverStats(
  requests: readonly RecordedLlmRequest[],
  admitted: readonly WindowEntry[],
  peakConcurrent: number,
): LlmServerStats {
  const count = (outcome: RecordedLlmRequest['outcome']): number => requests.filter((r) => r.outcome === outcome).length
  const minutes = new Map<number, LlmMinuteStats>()
  for (const r of requests) {
    const minute = Math.floor(r.at / 60_000) * 60_000
    let m = minutes.get(minute)
    if (!m) {
      m = { minute, requests: 0, ok: 0, rateLimited: 0, serverErrors: 0, tokens: 0 }
      minutes.set(minute, m)
    }
    m.requests++
    m.tokens += r.tokens
    if (r.outcome === 'ok') m.ok++
    if (r.outcome === 'rate_limited') m.rateLimited++
    if (r.outcome === 'server_error') m.serverErrors++
  }
  const peak = peaks(admitted)
  return {
    requests: requests.length,
    ok: count('ok'),
    rateLimited: count('rate_limited'),
    serverErrors: count('server_error'),
    unauthorized: count('unauthorized'),
    invalid: count('invalid'),
    dropped: count('dropped'),
    clientAborted: count('client_aborted'),
    peakConcurrent,
    peakRequestsPerMinute: peak.requests,
    peakTokensPerMinute: peak.tokens,
    byMinute: [...minutes.values()].sort((a, b) => a.minute - b.minute),
  }
}
