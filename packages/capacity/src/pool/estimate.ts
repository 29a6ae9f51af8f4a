import type { ChatRequest } from '../provider.js'

/** The output budget of a call that sets none; the pool sends it, so vendors count what it reserved. */
export const DEFAULT_MAX_TOKENS = 1024

/** Tokens a call may use, estimated before it is made: about 4 characters a token, plus its output budget. */
export function estimateTokens(
  chat: Omit<ChatRequest, 'model' | 'signal'>,
  defaultMaxTokens = DEFAULT_MAX_TOKENS,
): number {
  let chars = 0
  for (const m of chat.messages) {
    chars += m.content.length + 8
    if (m.role === 'assistant')
      for (const c of m.toolCalls ?? []) chars += c.name.length + JSON.stringify(c.input).length
  }
  for (const t of chat.tools ?? [])
    chars += t.name.length + (t.description?.length ?? 0) + JSON.stringify(t.inputSchema).length
  return Math.ceil(chars / 4) + (chat.maxTokens ?? defaultMaxTokens)
}
