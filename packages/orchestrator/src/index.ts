export type { OrchestratorConfig, Orchestrator, EngineSettings } from './orchestrator.js'
export { createOrchestrator } from './orchestrator.js'
export type { CallerContext } from './caller.js'
export { localCaller, systemCaller } from './caller.js'
export type { WorkflowSource } from './workflow/source.js'
export type { WorkflowService, RegisteredWorkflow, WorkflowListItem } from './workflow/workflow-service.js'
export type {
  RunService,
  StartRunCommand,
  StartedRun,
  RunListRequest,
  RunDetails,
  DecisionCommand,
  EventCommand,
  ForkCommand,
  ResumeAllResult,
} from './run/types.js'
export type { RunEventListener, RunFollower, FollowOptions } from './run/follow.js'
// The engine's view of a run and of a definition, for edges that show them (they never import the engine).
export type {
  RunState,
  StepState,
  UnitState,
  UnitStatus,
  EngineRunStatus,
  WorkflowDefinition,
  StepDefinition,
  WorkflowFormat,
  ReplayReport,
} from '@shiioo/engine'
export type { CapacityConfig, SourceConfig, ProviderKind } from './capacity.js'
export { PROVIDER_KINDS, capacityAgents, BUILTIN_TOOL_SPECS } from './capacity.js'
