export type {
  ChatMessage,
  ToolSpec,
  ToolCall,
  ChatRequest,
  ChatResponse,
  RateLimitInfo,
  RateLimitWindow,
  StopReason,
  TokenUsage,
  Provider,
} from './provider.js'
export type {
  CapacitySource,
  SourceLimits,
  SourcePrices,
  SourceStatus,
  PoolCall,
  PoolResult,
  CallRecord,
} from './pool/types.js'
export type { PoolOptions } from './pool/pool.js'
export { CapacityPool, costOf } from './pool/pool.js'
export { estimateTokens } from './pool/estimate.js'
export { SlidingWindow } from './pool/window.js'
