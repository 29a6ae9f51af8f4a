import type { ChatRequest } from '../provider.js'

/** Tokens a call may use, estimated before it is made: about 4 characters a token, plus its output budget. */
export function estimateTokens(chat: Omit<ChatRequest, 'model' | 'signal'>, defaultMaxTokens = 1024): number {
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
