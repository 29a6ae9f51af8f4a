// A run's state is the one fold of its events, kept in core (the index and the services use it too).
export type {
  AgentTurnState,
  Decision,
  ReceivedEvent,
  RunState,
  StepState,
  UnitState,
  UnitStatus,
  WaitFor,
} from '@shiioo/core'
export type { RunStatus } from '@shiioo/core'
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
} from '@shiioo/core'
