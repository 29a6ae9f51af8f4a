export { startLlmTestServer, defaultLlmReply } from './server.js'
export type {
  LlmApi,
  LlmToolCall,
  LlmConversationMessage,
  LlmServerRequest,
  LlmReply,
  LlmReplyFn,
  LlmRateLimits,
  LlmFaults,
  LlmTestServerOptions,
  LlmOutcome,
  RecordedLlmRequest,
  LlmMinuteStats,
  LlmServerStats,
  LlmTestServer,
} from './types.js'
