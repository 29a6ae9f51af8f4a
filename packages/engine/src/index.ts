export type {
  WorkflowSpec,
  WorkflowDefinition,
  StepSpec,
  StepDefinition,
  StepKind,
  AgentStep,
  ToolStep,
  ApprovalStep,
  ForeachStep,
  WaitStep,
  SubworkflowStep,
  TransformStep,
  ForeachBodySpec,
  ForeachBody,
  RetryPolicy,
  InputDeclaration,
} from './schema.js'
export { STEP_KINDS, DEFAULT_RETRY_ON, workflowSchema, stepSchema } from './schema.js'
export type { InputType } from './inputs.js'
export { INPUT_TYPES, matchesInputType } from './inputs.js'
export { STEP_ID, WORKFLOW_NAME, TOOL_NAME, ROLE_NAME, EVENT_NAME, INPUT_NAME, WORKFLOW_HASH } from './names.js'
export type { DurationInput } from './duration.js'
export { parseDuration, tryParseDuration, formatDuration, MAX_DURATION_MS } from './duration.js'
export type { ValidationLimits } from './limits.js'
export { DEFAULT_VALIDATION_LIMITS } from './limits.js'
export type { ValidationError, ValidationErrorCode } from './validation-errors.js'
export { VALIDATION_ERROR_CODES, formatValidationErrors } from './validation-errors.js'
export type { ValidateOptions, ValidWorkflow, ValidationResult } from './validate.js'
export { validateWorkflow, assertValidWorkflow } from './validate.js'
export type { WorkflowFormat } from './parse.js'
export { parseWorkflow } from './parse.js'
export { hashWorkflow, canonicalJson } from './hash.js'
export type { CompiledStep, CompiledWorkflow } from './compile.js'
export { compileWorkflow } from './compile.js'
export type { GraphNode } from './graph.js'
export { topologicalOrder, findCycles } from './graph.js'
export type { StepFields, BodyFields } from './builders.js'
export { defineWorkflow, step, foreachBody } from './builders.js'
export type { RunInputsResult } from './run-inputs.js'
export { resolveRunInputs } from './run-inputs.js'
export type { ParsedTemplate, TemplatePart, TemplateParseResult } from './templates.js'
export { parseTemplate, hasTemplate } from './templates.js'
export type { ExpressionReferences, StepReference, ExpressionAnalysis, ExpressionProblemCode } from './expressions.js'
export { analyzeExpression } from './expressions.js'
export type { ScopeShape } from './cel.js'
export type { ExpressionScope, ExpressionFailure } from './evaluate.js'
export { evaluate, evaluateCondition, evaluateList, evaluateTimestamp, renderTemplate } from './evaluate.js'
export { workflowJsonSchema } from './json-schema.js'
export type {
  RunState,
  StepState,
  UnitState,
  UnitStatus,
  RunStatus as EngineRunStatus,
  Decision,
  ReceivedEvent,
  WaitFor,
} from './run/state.js'
export { UNIT_STATUSES, foldRunState, applyRunEvent, isTerminal, isUnitDone } from './run/state.js'
export type {
  AgentRunner,
  AgentRequest,
  AgentResult,
  AgentTurn,
  AgentTextDelta,
  AgentToolCall,
  ToolInvoker,
  ToolRequest,
  AttemptContext,
} from './run/ports.js'
export type { RoleSpec, ModelPort, ModelCall, ModelReply, AgentLoopOptions, ToolSpecs } from './run/agent-loop.js'
export { agentLoop, poolModel, roleAllowsTool, MAX_TURNS } from './run/agent-loop.js'
export { standInAgent, toolInvoker, BUILTIN_TOOLS } from './run/stand-ins.js'
export type { EngineOptions, StartRunRequest, StartRunResult, ForkRequest } from './run/engine.js'
export type { ReplayReport } from './run/replay.js'
export { Engine } from './run/engine.js'
export type { Signal } from './run/signals.js'
export { STEP_ERROR_CODES } from './run/failures.js'
export { idempotencyKey } from './run/plan.js'
export { resolvePayload } from './run/payloads.js'
export { replayRun } from './run/replay.js'
export { DefinitionStore, foldWorkflowVersions, workflowsProjection } from './run/definitions.js'
