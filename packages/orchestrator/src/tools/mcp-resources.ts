import type { Json } from '@shiioo/core'
import { ShiiooError, isRunId, isShiiooError } from '@shiioo/core'
import { WORKFLOW_NAME } from '@shiioo/engine'
import type { McpResource, McpResourceContents, McpResourceProvider, McpResourceTemplate } from '@shiioo/mcp'
import type { Orchestrator } from '../orchestrator.js'
import { callerOfTool } from './callers.js'

/** The services Shiioo's MCP resources read. */
export type McpResourceServices = Pick<Orchestrator, 'runs' | 'workflows'>

const JSON_TYPE = 'application/json'

/** The runs `resources/list` offers (the most recent first); older ones are read by their URI. */
export const LISTED_RUNS = 25
/** The workflow names `resources/list` offers. */
export const LISTED_WORKFLOWS = 100

export const RESOURCE_TEMPLATES: readonly McpResourceTemplate[] = [
  {
    uriTemplate: 'shiioo://runs/{runId}',
    name: 'run',
    title: 'Run',
    description: 'A run as the API shows it: status, steps, input, output, decisions, cost (JSON).',
    mimeType: JSON_TYPE,
  },
  {
    uriTemplate: 'shiioo://runs/{runId}/events',
    name: 'run-events',
    title: 'Run event log',
    description: "A run's events in order, each with its seq, type, time, actor and data (JSON).",
    mimeType: JSON_TYPE,
  },
  {
    uriTemplate: 'shiioo://workflows/{name}',
    name: 'workflow',
    title: 'Workflow definition',
    description: 'A registered workflow: its versions and its current definition, normalized (JSON).',
    mimeType: JSON_TYPE,
  },
]

type Target = { kind: 'run'; runId: string } | { kind: 'events'; runId: string } | { kind: 'workflow'; name: string }

const RUN_URI = /^shiioo:\/\/runs\/([^/?#]+)(\/events)?$/
const WORKFLOW_URI = /^shiioo:\/\/workflows\/([^/?#]+)$/

/** What a URI names, or null when it names no resource there could be. */
function targetOf(uri: string): Target | null {
  const run = RUN_URI.exec(uri)
  if (run) {
    const runId = run[1]!
    if (!isRunId(runId)) return null
    return run[2] === undefined ? { kind: 'run', runId } : { kind: 'events', runId }
  }
  const workflow = WORKFLOW_URI.exec(uri)
  if (workflow && WORKFLOW_NAME.test(workflow[1]!)) return { kind: 'workflow', name: workflow[1]! }
  return null
}

/**
 * One answer for every URI the caller cannot read: malformed, unknown, or another tenant's (the
 * services scope every read to the caller's tenant), so an answer tells nothing about other tenants.
 */
function notFound(uri: string): ShiiooError {
  return new ShiiooError('NOT_FOUND', `Resource not found: ${uri.slice(0, 300)}`, {
    details: { uri: uri.slice(0, 300) },
  })
}

async function orNotFound<T>(uri: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (err) {
    if (isShiiooError(err) && (err.code === 'NOT_FOUND' || err.code === 'INVALID_INPUT')) throw notFound(uri)
    throw err
  }
}

/** A listing the caller's roles do not allow is left out of `resources/list`, not a failure of it. */
async function ifAllowed<T>(read: () => Promise<T[]>): Promise<T[]> {
  try {
    return await read()
  } catch (err) {
    if (isShiiooError(err) && err.code === 'FORBIDDEN') return []
    throw err
  }
}

function json(uri: string, value: Json | object): McpResourceContents[] {
  return [{ uri, mimeType: JSON_TYPE, text: JSON.stringify(value, null, 2) }]
}

/**
 * Runs, their event logs and workflow definitions as MCP resources, read through the run and
 * workflow services as the session's caller: each read is admitted (`run.read`, `workflow.read`)
 * and scoped to the caller's tenant by the service; nothing is read past it.
 *
 * - `shiioo://runs/{runId}`: the run view (`runs.get`)
 * - `shiioo://runs/{runId}/events`: `{ runId, events }`, the run's events in seq order (`runs.events`)
 * - `shiioo://workflows/{name}`: the name's versions and current definition (`workflows.get`)
 *
 * A run can be watched (`resources/subscribe`): both of its URIs are updated on each event it gets.
 */
export function mcpResourcesOf(services: McpResourceServices): McpResourceProvider {
  const { runs, workflows } = services
  return {
    async list(toolCaller) {
      const caller = callerOfTool(toolCaller)
      const [recent, names] = await Promise.all([
        ifAllowed(async () => (await runs.list(caller, { limit: LISTED_RUNS })).items),
        ifAllowed(async () => (await workflows.list(caller)).slice(0, LISTED_WORKFLOWS)),
      ])
      const listed: McpResource[] = []
      for (const run of recent) {
        const about = `${run.workflow.name}, ${run.status}, started ${run.startedAt}`
        listed.push(
          {
            uri: `shiioo://runs/${run.runId}`,
            name: `run ${run.runId}`,
            title: `Run of ${run.workflow.name} (${run.status})`,
            description: `The run (${about}).`,
            mimeType: JSON_TYPE,
          },
          {
            uri: `shiioo://runs/${run.runId}/events`,
            name: `events of run ${run.runId}`,
            title: `Events of the run of ${run.workflow.name}`,
            description: `The run's event log (${about}; ${run.lastSeq} events).`,
            mimeType: JSON_TYPE,
          },
        )
      }
      for (const workflow of names) {
        listed.push({
          uri: `shiioo://workflows/${workflow.name}`,
          name: `workflow ${workflow.name}`,
          title: `Workflow ${workflow.name}`,
          description: `The current definition of ${workflow.name} (${workflow.versions.length} versions).`,
          mimeType: JSON_TYPE,
        })
      }
      return listed
    },

    async read(toolCaller, uri) {
      const caller = callerOfTool(toolCaller)
      const target = targetOf(uri)
      if (target === null) throw notFound(uri)
      switch (target.kind) {
        case 'run':
          return json(uri, await orNotFound(uri, () => runs.get(caller, target.runId)))
        case 'events': {
          const events = await orNotFound(uri, () => runs.events(caller, target.runId))
          return json(uri, { runId: target.runId, events })
        }
        case 'workflow':
          return json(uri, await orNotFound(uri, () => workflows.get(caller, target.name)))
      }
    },

    templates: async () => RESOURCE_TEMPLATES,

    async watch(toolCaller, uri, changed, { signal }) {
      const caller = callerOfTool(toolCaller)
      const target = targetOf(uri)
      if (target === null) throw notFound(uri)
      if (target.kind === 'workflow') {
        throw new ShiiooError('INVALID_INPUT', 'only runs can be watched: subscribe to shiioo://runs/{runId}', {
          details: { field: 'uri' },
        })
      }
      // what the run holds now; its later events are the updates
      const { lastSeq } = await orNotFound(uri, () => runs.get(caller, target.runId))
      if (signal.aborted) return
      const follower = runs.follow(caller, target.runId, () => changed(), { fromSeq: lastSeq + 1 })
      signal.addEventListener('abort', () => follower.stop(), { once: true })
    },
  }
}
