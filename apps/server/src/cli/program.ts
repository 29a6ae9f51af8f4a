import { Command, CommanderError } from 'commander'
import { readVersion } from '../version.js'
import { registerAudit } from './audit.js'
import type { CommandContext } from './context.js'
import { registerCosts } from './costs.js'
import { registerEvents } from './events.js'
import { reportError } from './exit-codes.js'
import { registerPrincipal, registerToken } from './identity.js'
import { registerIndex } from './index-rebuild.js'
import type { CliIo } from './io.js'
import { registerReplay } from './replay.js'
import { registerResume } from './resume.js'
import { registerRun } from './run.js'
import { registerRuns } from './runs.js'
import { registerServe } from './serve.js'
import { registerSignals } from './signals.js'
import { registerTools } from './tools.js'
import { registerVerify } from './verify.js'

/**
 * Runs one command line (`argv` without node and the script) and returns the process exit code.
 * `shiioo` starts the commands it prints for a person to paste (see command-line.ts).
 */
export async function runCli(args: readonly string[], io: CliIo, cwd: string, shiioo: string): Promise<number> {
  let exitCode = 0
  const ctx: CommandContext = { io, version: readVersion(), cwd, shiioo, setExitCode: (code) => (exitCode = code) }
  const program = new Command('shiioo')
    .description('Shiioo: durable workflows of LLM agents, tools and human approvals')
    .version(ctx.version)
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) })
  registerServe(program, ctx)
  registerRun(program, ctx)
  registerRuns(program, ctx)
  registerSignals(program, ctx)
  registerResume(program, ctx)
  registerReplay(program, ctx)
  registerCosts(program, ctx)
  registerEvents(program, ctx)
  registerIndex(program, ctx)
  registerVerify(program, ctx)
  registerAudit(program, ctx)
  registerPrincipal(program, ctx)
  registerToken(program, ctx)
  registerTools(program, ctx)
  try {
    await program.parseAsync([...args], { from: 'user' })
    return exitCode
  } catch (err) {
    // commander has already printed usage problems; help and --version end with exit code 0
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    return reportError(err, io.err)
  }
}
