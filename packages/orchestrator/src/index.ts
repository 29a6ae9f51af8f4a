export type { OrchestratorConfig, Orchestrator, EngineSettings } from './orchestrator.js'
export { createOrchestrator, CONTROL_PROJECTIONS } from './orchestrator.js'
export type { CallerContext, ServiceAction, ReadAction, ChangeAction, ServiceResource, Gate } from './caller.js'
export {
  SERVICE_ACTIONS,
  READ_ACTIONS,
  CHANGE_ACTIONS,
  admit,
  callerProblem,
  resourceId,
  localCaller,
  systemCaller,
} from './caller.js'
export type { LiveService, LiveRequest, LiveScope, LiveEventView, LiveBatch } from './live/live-service.js'
export type { AgentTextView } from './live/agent-text.js'
export type { AuditService, AuditListRequest } from './audit/audit-service.js'
export type {
  IdentityService,
  CreatePrincipalCommand,
  CreateTokenCommand,
  TokenListRequest,
  BootstrapCommand,
} from './identity/identity-service.js'
export type {
  PrincipalView,
  TokenView,
  TokenStatus,
  CreatedTokenView,
  BootstrapView,
  WhoAmIView,
} from './views/identity.js'
export { TOKEN_STATUSES } from './views/identity.js'
export type { AuditEntryView, AuditOutcomeView, AuditPageView, AuditVerifyView } from './views/audit.js'
export type { WorkflowSource, WorkflowSourceFormat } from './workflow/source.js'
export { WORKFLOW_FORMATS, checkRunRequest } from './workflow/source.js'
export type { WorkflowService } from './workflow/workflow-service.js'
export type {
  RunService,
  StartRunCommand,
  StartedRun,
  RunListRequest,
  CostRequest,
  CostRowView,
  DecisionCommand,
  EventCommand,
  EventsRequest,
  ForkCommand,
  ResumeAllResult,
  EventViewListener,
} from './run/types.js'
export type { RunFollower, FollowOptions } from './run/follow.js'
export type { DataService, DataDirPort, MaintenanceOptions } from './data-dir/data-service.js'
export type { Supervisor, SupervisorOptions } from './supervisor.js'
export type { PayloadView, ErrorView, CostView } from './views/payload.js'
export type { EventView } from './views/event.js'
export type {
  StepView,
  UnitView,
  WaitView,
  AgentTurnView,
  StepViewStatus,
  StepViewKind,
  WaitViewKind,
} from './views/step.js'
export { STEP_VIEW_STATUSES, STEP_VIEW_KINDS, WAIT_VIEW_KINDS } from './views/step.js'
export type {
  RunHeadView,
  RunView,
  RunAtView,
  RunListItemView,
  RunPageView,
  RunOutcomeView,
  DecisionView,
  ReceivedEventView,
  RunStatus,
} from './views/run.js'
export type { ReplayReportView } from './views/replay.js'
export type { WorkflowView, WorkflowVersionView, WorkflowDetailView, RegisteredWorkflowView } from './views/workflow.js'
export type {
  VerifyReportView,
  VerifyFindingView,
  VerifyProgressView,
  IndexRebuildView,
  IndexRebuildProgressView,
  IndexCatchUpView,
} from './views/data.js'
export type { CapacityConfig, SourceConfig, ProviderKind } from './capacity.js'
export { PROVIDER_KINDS, capacityAgents, BUILTIN_TOOL_SPECS } from './capacity.js'
export type { ApprovalService, PendingApprovalsRequest } from './approvals/approval-service.js'
export type { PendingApprovalView, PendingApprovalPageView } from './views/approval.js'
export type { CapacityService, CapacityUsageRequest } from './capacity-read/capacity-service.js'
export type { CapacityPoolView, CapacitySourceView, CapacitySourceStateView } from './views/capacity.js'
export type { MetricsService, MetricsListener } from './metrics/metrics-service.js'
export type { MetricsSnapshotView, MetricsObservationView } from './views/metrics.js'
export type { ToolService, ToolView, ToolCallRequest } from './tools/tool-service.js'
export { inputDigest } from './tools/tool-service.js'
export { toolCallerOf, callerOfTool, workflowCaller, permits } from './tools/callers.js'

// MCP edges: the tool service as an MCP session's tools, and runs and workflows as MCP resources
export { mcpToolsOf } from './tools/mcp-edge.js'
export type { McpResourceServices } from './tools/mcp-resources.js'
export { mcpResourcesOf, RESOURCE_TEMPLATES, LISTED_RUNS, LISTED_WORKFLOWS } from './tools/mcp-resources.js'

// Shiioo's own tools (shiioo.*): the port @shiioo/mcp's shiiooToolSource is written against
export type { ShiiooToolServices } from './tools/shiioo-port.js'
export { shiiooToolPort } from './tools/shiioo-port.js'
