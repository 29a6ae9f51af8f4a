export type { Brand, RunId, EventId, TenantId, StreamId, IdFactory } from './ids.js'
export {
  DEFAULT_TENANT,
  RUN_ID,
  createUlidFactory,
  createIdFactory,
  idTime,
  isRunId,
  isEventId,
  isTenantId,
  isStreamId,
  parseRunId,
  parseTenantId,
  parseStreamId,
  streamKind,
} from './ids.js'
export type { ErrorCode, ShiiooErrorOptions } from './errors.js'
export { ERROR_CODES, ShiiooError, isShiiooError, toShiiooError } from './errors.js'
export type { Json, Payload, ErrorInfo } from './events/payload.js'
export {
  BLOB_KEY,
  MAX_JSON_DEPTH,
  blobKeySchema,
  jsonSchema,
  payloadSchema,
  errorInfoSchema,
} from './events/payload.js'
export type { EventSchemas, EventType, EventData } from './events/catalog.js'
export {
  eventSchemas,
  EVENT_TYPES,
  isEventType,
  MAX_ITEM_INDEX,
  MAX_WAIT_PROMPT_CHARS,
  STEP_ID,
  CORE_EVENT_MODULES,
  runEvents,
  idempotencyEvents,
  workflowEvents,
} from './events/catalog.js'
export type { EventModule, EventSpec } from './events/registry.js'
export { defineEventModule, createEventCatalog } from './events/registry.js'
export type { ControlProjection } from './projection/control-projection.js'
export { projectControlStream } from './projection/control-projection.js'
export type { Actor, ActorKind, StoredEvent, NewEvent, EventCatalog } from './events/envelope.js'
export {
  ACTOR_KINDS,
  newEvent,
  validateNewEvent,
  serializeEvent,
  decodeStoredEvent,
  decodeStoredRecord,
  defaultCatalog,
  storedEventSchema,
} from './events/envelope.js'
export type { BlobReference } from './events/blob-refs.js'
export { blobReferences } from './events/blob-refs.js'
export type { Upcaster, Upcasters } from './events/upcasters.js'
export { upcasters } from './events/upcasters.js'
export type {
  EventLog,
  ExpectedVersion,
  AppendRequest,
  AppendResult,
  ReadRequest,
  StreamInfo,
  ListStreamsRequest,
  AppendListener,
} from './ports/event-log.js'
export type {
  EventFeed,
  FeedPosition,
  FeedStart,
  FeedFilter,
  FeedRequest,
  CommitRequest,
  FeedEvent,
  FeedBatch,
  FeedCommit,
  StreamKind,
} from './ports/feed.js'
export type { FeedMatcher } from './feed/feed-request.js'
export { compileFeedRequest, positionGone, badPosition } from './feed/feed-request.js'
export type { FeedCursor, FeedSource, SourceCommit } from './feed/pull.js'
export { feedIterables, FeedWaiters, encodePosition, decodePosition, ZERO_POSITION } from './feed/pull.js'
export type { BlobStore, PutBlobResult } from './ports/blob-store.js'
export type {
  IndexStore,
  StreamCheckpoint,
  ListRunsQuery,
  Page,
  RunListItem,
  LlmCall,
  CostDimension,
  CostQuery,
  CostRow,
  ProjectionRow,
  ProjectedRows,
  StoredProjectionRow,
} from './ports/index-store.js'
export { COST_DIMENSIONS } from './ports/index-store.js'
export { llmCallsOf } from './projection/llm-calls.js'
export type { Clock } from './ports/clock.js'
export type {
  CapacityLedger,
  LedgerLimits,
  LedgerReservation,
  LedgerReserveRequest,
  LedgerReserveResult,
  LedgerObservation,
  LedgerUsage,
  VendorWindow,
} from './ports/capacity-ledger.js'
export { InProcessCapacityLedger } from './capacity/memory-ledger.js'
export { FsCapacityLedger } from './fs/fs-capacity-ledger.js'
export type { LeaseGrant, LeaseHolder, LeaseRequest, Leases } from './ports/leases.js'
export { FsLeases, FsLeaseGrant } from './fs/fs-leases.js'
export { LockIdentity } from './fs/lock-identity.js'
export { DEFAULT_LEASE_TTL_MS } from './fs/owners.js'
export { systemClock } from './ports/clock.js'
export type { Logger, LogContext } from './ports/logger.js'
export { silentLogger } from './ports/logger.js'
export type { RunStatus, StepStatus, StepSummary, RunSummary } from './projection/run-summary.js'
export { RUN_STATUSES, STEP_STATUSES, foldRun, summarizeRun } from './projection/run-summary.js'
export type {
  AgentTurnState,
  AgentToolState,
  Decision,
  ReceivedEvent,
  RunState,
  StepState,
  UnitState,
  UnitStatus,
  WaitFor,
} from './projection/run-state.js'
export {
  UNIT_STATUSES,
  applyRunEvent,
  cloneRunState,
  foldRunState,
  isTerminal,
  isUnitDone,
  newUnit,
  stepState,
  unitState,
} from './projection/run-state.js'
export type { FsStreamFolderOptions } from './fs/fs-stream-folder.js'
export { createFsStreamFolder } from './fs/fs-stream-folder.js'
export { openWriters } from './fs/journal-recovery.js'
export type { FsEventLogOptions } from './fs/fs-event-log.js'
export { FsEventLog, openFsEventLog } from './fs/fs-event-log.js'
export type { FsBlobStoreOptions } from './fs/fs-blob-store.js'
export { FsBlobStore, parseBlobKey, sha256Hex } from './fs/fs-blob-store.js'
export { streamPath, blobPath, tenantRoot } from './fs/paths.js'
export { scanMembers, encodeMember } from './fs/gzip-members.js'
export type {
  ProjectOptions,
  ProjectProgress,
  ProjectResult,
  ProjectorOptions,
  RebuildOptions,
  Following,
} from './projection/projector.js'
export { Projector } from './projection/projector.js'
export type { AuditEntry, AuditOutcome, AuditSubject, UnhashedAuditEntry } from './audit/entry.js'
export {
  AUDIT_STREAM,
  AUDIT_OUTCOME_STATUSES,
  GENESIS_HASH,
  auditEntrySchema,
  auditEvents,
  hashAuditEntry,
} from './audit/entry.js'
export { canonicalJson } from './canonical-json.js'
export type { Role, PrincipalKind } from './identity/events.js'
export {
  IDENTITY_STREAM,
  ROLES,
  PRINCIPAL_KINDS,
  PRINCIPAL_ID,
  PRINCIPAL_NAME,
  TOKEN_ID,
  identityEvents,
} from './identity/events.js'
export type { IdentityState, PrincipalState, TokenState } from './identity/state.js'
export { applyIdentityEvent, emptyIdentityState } from './identity/state.js'
export type { AuditHead, AuditBreak, AuditChainCheck } from './audit/chain.js'
export { checkAuditChain } from './audit/chain.js'
export type { AuditDraft, AuditVerification, AuditTrailOptions } from './audit/trail.js'
export { AuditTrail } from './audit/trail.js'
export type { VerifyReport, VerifyFinding, VerifyProgress } from './verify.js'
export { verifyDataDir } from './verify.js'
export type { FoldTask, FoldOutcome, StreamFolder } from './projection/stream-folder.js'
export { foldStreams } from './projection/stream-folder.js'
