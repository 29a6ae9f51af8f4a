import type { z } from 'zod'
import { ShiiooError } from '../errors.js'
import type { Upcasters } from './upcasters.js'

/** One event type of a module: its current schema version and the schema of its data. */
export interface EventSpec {
  v: number
  data: z.ZodType
}

/**
 * The event types a feature owns (runs, workflows, idempotency today; identity, audit, approvals,
 * budgets and routines as they arrive), with the upcasters that bring its older versions to the
 * current ones. A feature adds a module; core's catalog is the composition of the modules a
 * process loads, never a list every feature edits.
 */
export interface EventModule<E extends Readonly<Record<string, EventSpec>> = Readonly<Record<string, EventSpec>>> {
  /** The feature, as errors name it. */
  name: string
  events: E
  /** `"<type>@<v>"` turns version v of one of this module's types into v+1. */
  upcasters?: Upcasters
}

/** The event types a reader or writer knows, with their current versions and the upcasters to reach them. */
export interface EventCatalog {
  schemas: Readonly<Record<string, EventSpec>>
  upcasters: Upcasters
  /** The modules it was made of. */
  modules?: readonly EventModule[]
}

/** `<feature>.<what>`: lowercase words, at least one dot. */
const EVENT_TYPE = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/
const UPCASTER_KEY = /^(.+)@(\d+)$/

/** Declares a module (checked when a catalog is made of it). */
export function defineEventModule<const E extends Readonly<Record<string, EventSpec>>>(
  module: EventModule<E>,
): EventModule<E> {
  return module
}

/**
 * Composes modules into one catalog. A type declared twice, a malformed type name or version, or
 * an upcaster for a type its module does not own (or for no older version) is a programming error:
 * it stops the process at start, naming the modules.
 */
export function createEventCatalog(modules: readonly EventModule[]): EventCatalog {
  const schemas: Record<string, EventSpec> = {}
  const upcasters: Record<string, Upcasters[string]> = {}
  const owner = new Map<string, string>()
  const bad = (message: string) => new ShiiooError('INTERNAL', `event catalog: ${message}`)
  for (const m of modules) {
    for (const [type, spec] of Object.entries(m.events)) {
      if (!EVENT_TYPE.test(type)) throw bad(`module ${m.name}: "${type}" is not a <feature>.<what> event type`)
      if (!Number.isInteger(spec.v) || spec.v < 1) throw bad(`module ${m.name}: ${type} has version ${spec.v}`)
      const other = owner.get(type)
      if (other !== undefined) throw bad(`event type ${type} is declared by modules ${other} and ${m.name}`)
      owner.set(type, m.name)
      schemas[type] = spec
    }
    for (const [key, up] of Object.entries(m.upcasters ?? {})) {
      const match = UPCASTER_KEY.exec(key)
      const spec = match ? m.events[match[1]!] : undefined
      if (!match || !spec || Number(match[2]) < 1 || Number(match[2]) >= spec.v) {
        throw bad(`module ${m.name}: upcaster "${key}" names no older version of one of its types`)
      }
      upcasters[key] = up
    }
  }
  return { schemas, upcasters, modules }
}
