export { EventFactory } from './events.js'
export type { EventLogHarness } from './event-log-conformance.js'
export { eventLogConformance } from './event-log-conformance.js'
export type { BlobStoreHarness } from './blob-store-conformance.js'
export { blobStoreConformance } from './blob-store-conformance.js'
export { MemoryEventLog, MemoryBlobStore } from './memory.js'
export { FakeClock } from './fake-clock.js'
export { indexStoreConformance, type IndexStoreHarness } from './index-store-conformance.js'
export { projectionConformance } from './projection-conformance.js'
export type { ProjectionHarness } from './projection-conformance.js'
export { errorCodeOf } from './errors.js'
export { startLlmTestServer, defaultLlmReply } from './llm-server/index.js'
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
} from './llm-server/index.js'
