import { userInfo } from 'node:os'
import type { TenantId } from '@shiioo/core'
import type { CallerContext, Orchestrator } from '@shiioo/orchestrator'
import { localCaller } from '@shiioo/orchestrator'
import type { OpenOptions } from '../compose.js'
import { openOrchestrator } from '../compose.js'
import type { Config } from '../config/index.js'
import { dataDirArg } from './command-line.js'
import type { GlobalOptions } from './options.js'
import { QUIET, loadCommandConfig } from './options.js'
import { remoteServices } from './remote/services.js'
import type { RemoteTools } from './remote/tools.js'

/** The services a command calls on the data dir. */
export type CliServices = Pick<Orchestrator, 'runs' | 'audit' | 'identity' | 'data' | 'live' | 'tools'>
/** Those a command may also call on a running server (`--server`, `SHIIOO_SERVER`). */
export type RemoteServices = Pick<Orchestrator, 'runs' | 'audit' | 'identity'> & {
  live: Pick<Orchestrator['live'], 'agentText'>
  tools: RemoteTools
}

/** A command's view of the application: the services, who is calling, and how to name the data dir. */
export interface Session<S extends RemoteServices = CliServices> {
  services: S
  /** The server the services call (`--server`), or null on the data dir. */
  server: string | null
  config: Config
  caller: CallerContext
  /** ` --data-dir <path>` when the command was given one, so a printed command works as shown. */
  dataDirArg: string
}

/** The local user: the CLI runs with the rights of whoever can read the data dir. */
function cliCaller(tenant: TenantId | undefined): CallerContext {
  let name = 'unknown'
  try {
    name = userInfo().username
  } catch {
    // no user database entry (some containers): keep the placeholder
  }
  return localCaller(name, tenant)
}

/**
 * Opens the orchestrator on the configured data dir, runs `fn` as the local user (in `tenant`,
 * default the default tenant), and closes it whatever happens.
 */
/** How a command opens the data dir (or reaches a server). */
export type SessionOpen = OpenOptions & {
  tenant?: TenantId
  /** False for a command that changes nothing a run drives (it then needs no capacity key). */
  drivesRuns?: false
}

export async function withSession<T>(
  options: GlobalOptions,
  open: SessionOpen & { remote: true },
  fn: (session: Session<RemoteServices>) => Promise<T>,
): Promise<T>
export async function withSession<T>(
  options: GlobalOptions,
  open: SessionOpen & { remote?: false },
  fn: (session: Session) => Promise<T>,
): Promise<T>
export async function withSession<T>(
  options: GlobalOptions,
  open: SessionOpen & { remote?: boolean },
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  // a command sent to a server calls no model here, and one that only reads, or changes what is
  // not a run (principals, tokens), none at all: they need no source's key; any other must refuse
  // to start without one
  const settings = loadCommandConfig(options, QUIET, { requireKeys: false })
  const remote = open.remote === true ? settings.remote : null
  const callsModels = open.readOnly !== true && open.drivesRuns !== false
  const config = remote !== null || !callsModels ? settings : loadCommandConfig(options, QUIET, { requireKeys: true })
  const caller = cliCaller(open.tenant)
  if (remote) {
    // the server acts as the token's principal, in its tenant: `caller` names no one there
    const run = fn as (session: Session<RemoteServices>) => Promise<T>
    // a printed command names the server as this one was given it (a flag, or the environment)
    const serverArg = options.server === undefined ? '' : ` --server ${remote.url}`
    return run({ services: remoteServices(remote), server: remote.url, config, caller, dataDirArg: serverArg })
  }
  const app = await openOrchestrator(config, open)
  try {
    return await fn({
      services: app.orchestrator,
      server: null,
      config,
      caller,
      dataDirArg: dataDirArg(options.dataDir, config.dataDir),
    })
  } finally {
    await app.close()
  }
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}
