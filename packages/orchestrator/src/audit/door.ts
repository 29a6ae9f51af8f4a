import type { AuditOutcome, AuditSubject, AuditTrail, Clock, Json, Logger } from '@shiioo/core'
import { isShiiooError, toShiiooError } from '@shiioo/core'
import type { CallerContext, ChangeAction, Gate, ReadAction, ServiceAction, ServiceResource } from '../caller.js'
import { callerProblem, resourceId } from '../caller.js'

/** What a change adds to its audit entry. */
export interface ChangeAudit<T> {
  /** What the call was asked (a decision, a reason), recorded whatever its outcome. */
  details?: Record<string, Json>
  /** What it made (the run a start made), recorded when it succeeds. */
  result?: (result: T) => Record<string, Json>
  /** False when the call changed nothing (a takeover scan that found no run): no entry then. */
  changed?: (result: T) => boolean
}

/**
 * Where every service call comes in: the gate decides, and the tenant's audit chain records each
 * refusal and the outcome (ok, or the error code) of each call that changes something. Reads let
 * in are not recorded. An action is a read or a change by its type, so a change cannot skip its entry.
 */
export interface Door {
  /** Admits a read, or throws what the gate threw (the refusal is audited). */
  admit(caller: CallerContext, action: ReadAction, resource: ServiceResource): void
  /**
   * Admits a change (or throws, once the refusal is audited), runs it, and resolves or rejects
   * once its outcome is in the audit chain. An entry that cannot be written fails the call.
   */
  change<T>(
    caller: CallerContext,
    action: ChangeAction,
    resource: ServiceResource,
    body: () => Promise<T>,
    audit?: ChangeAudit<T>,
  ): Promise<T>
  /**
   * Records a refusal made outside the gate (a revoked or expired token presented), as the gate's
   * refusals are recorded: denied, with the error's code and message.
   */
  refused(
    caller: CallerContext,
    action: ServiceAction,
    resource: ServiceResource,
    error: unknown,
    details?: Record<string, Json>,
  ): Promise<void>
}

export interface DoorDeps {
  gate: Gate
  trail: AuditTrail
  clock: Clock
  logger: Logger
}

const MESSAGE_CHARS = 1000

export function subjectOf(resource: ServiceResource): AuditSubject {
  return { kind: resource.kind, id: resourceId(resource) }
}

export function createDoor(deps: DoorDeps): Door {
  const { gate, trail, clock, logger } = deps

  const record = (
    caller: CallerContext,
    action: ServiceAction,
    resource: ServiceResource,
    outcome: AuditOutcome,
    details: Record<string, Json>,
  ) =>
    trail.record(caller.tenant, {
      at: new Date(clock.now()).toISOString(),
      actor: caller.actor,
      action,
      subject: subjectOf(resource),
      outcome,
      details,
    })

  const failure = (status: 'denied' | 'error', err: unknown): AuditOutcome => {
    const e = toShiiooError(err)
    return { status, code: e.code, message: e.message.slice(0, MESSAGE_CHARS) }
  }

  /**
   * Asks the gate. A refusal comes back with the promise of its audit entry (a malformed caller
   * names no tenant to record it in: its refusal is thrown as it is).
   */
  const pass = (
    caller: CallerContext,
    action: ServiceAction,
    resource: ServiceResource,
  ): { refusal: unknown; recorded: Promise<unknown> } | null => {
    try {
      gate(caller, action, resource)
      return null
    } catch (err) {
      if (callerProblem(caller) !== null) throw err
      const recorded = record(caller, action, resource, failure('denied', err), {}).catch((auditError: unknown) => {
        logger.error('could not audit a refused call', {
          tenant: caller.tenant,
          action,
          error: toShiiooError(auditError).message,
        })
      })
      return { refusal: err, recorded }
    }
  }

  return {
    async refused(caller, action, resource, error, details = {}) {
      await record(caller, action, resource, failure('denied', error), details).catch((auditError: unknown) => {
        logger.error('could not audit a refused call', {
          tenant: caller.tenant,
          action,
          error: toShiiooError(auditError).message,
        })
      })
    },

    admit(caller, action, resource) {
      const refused = pass(caller, action, resource)
      if (refused) throw refused.refusal
    },

    async change(caller, action, resource, body, audit = {}) {
      const refused = pass(caller, action, resource)
      if (refused) {
        await refused.recorded
        throw refused.refusal
      }
      const details = audit.details ?? {}
      let result: Awaited<ReturnType<typeof body>>
      try {
        result = await body()
      } catch (err) {
        try {
          // a refusal made past the gate (a tool the caller's roles do not cover) is a denial too
          const denied = isShiiooError(err) && (err.code === 'FORBIDDEN' || err.code === 'UNAUTHENTICATED')
          await record(caller, action, resource, failure(denied ? 'denied' : 'error', err), details)
        } catch (auditError) {
          logger.error('could not audit a failed call', {
            tenant: caller.tenant,
            action,
            error: toShiiooError(auditError).message,
          })
        }
        throw err
      }
      if (audit.changed?.(result) === false) return result
      await record(caller, action, resource, { status: 'ok' }, { ...details, ...audit.result?.(result) })
      return result
    },
  }
}
