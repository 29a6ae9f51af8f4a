import { userInfo } from 'node:os'
import type { TenantId } from '@shiioo/core'
import type { CallerContext } from '@shiioo/orchestrator'
import { localCaller } from '@shiioo/orchestrator'
import type { Composed, OpenOptions } from '../compose.js'
import { openOrchestrator } from '../compose.js'
import type { Config } from '../config/index.js'
import { dataDirArg } from './command-line.js'
import type { GlobalOptions } from './options.js'
import { QUIET, loadCommandConfig } from './options.js'

/** A command's view of the application: the orchestrator, who is calling, and how to name the data dir. */
export interface Session {
  app: Composed
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
export async function withSession<T>(
  options: GlobalOptions,
  open: OpenOptions & { tenant?: TenantId },
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  // a command that only reads calls no model: it needs no source's key
  const config = loadCommandConfig(options, QUIET, { requireKeys: open.readOnly !== true })
  const app = await openOrchestrator(config, open)
  try {
    return await fn({
      app,
      config,
      caller: cliCaller(open.tenant),
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
