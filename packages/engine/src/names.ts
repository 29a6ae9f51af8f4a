import { STEP_ID } from '@shiioo/core'
import { z } from 'zod'

// core's rule for step ids in events, so every definition step id fits an event
export { STEP_ID }
export const WORKFLOW_NAME = /^[a-z][a-z0-9-]{0,62}$/
export const TOOL_NAME = /^[a-z][a-z0-9_.-]{0,127}$/
export const ROLE_NAME = /^[a-z][a-z0-9_.-]{0,63}$/
export const EVENT_NAME = /^[a-z][a-z0-9_.-]{0,127}$/
// Input names are CEL identifiers so that `inputs.<name>` works in expressions.
export const INPUT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/
export const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/
export const WORKFLOW_HASH = /^[0-9a-f]{64}$/

export const stepIdSchema = z
  .string()
  .regex(STEP_ID, 'a step id is a letter or _ then letters, digits, _ or -, at most 64 characters')

export const workflowNameSchema = z
  .string()
  .regex(
    WORKFLOW_NAME,
    'a workflow name is a lowercase letter then lowercase letters, digits or -, at most 63 characters',
  )

export const toolNameSchema = z
  .string()
  .regex(
    TOOL_NAME,
    'a tool name is a lowercase letter then lowercase letters, digits, _, . or -, at most 128 characters',
  )

export const roleNameSchema = z
  .string()
  .regex(
    ROLE_NAME,
    'a role name is a lowercase letter then lowercase letters, digits, _, . or -, at most 64 characters',
  )

export const eventNameSchema = z
  .string()
  .regex(
    EVENT_NAME,
    'an event name is a lowercase letter then lowercase letters, digits, _, . or -, at most 128 characters',
  )

export const inputNameSchema = z
  .string()
  .regex(INPUT_NAME, 'an input name is a letter or _ then letters, digits or _, at most 64 characters')

export const errorCodeSchema = z
  .string()
  .regex(ERROR_CODE, 'an error code is UPPER_SNAKE_CASE, like UNAVAILABLE or RATE_LIMITED')

export const workflowHashSchema = z.string().regex(WORKFLOW_HASH, 'a workflow hash is 64 lowercase hex characters')
