import { readInvocation } from '../config/index.js'
import { cliCommand } from './command-line.js'
import { runCli } from './program.js'

process.exitCode = await runCli(
  process.argv.slice(2),
  { out: process.stdout, err: process.stderr },
  process.cwd(),
  cliCommand(readInvocation()),
)
// Everything the command owns is closed by now, so the process ends on its own. A timer some
// library left armed must not keep a finished command alive for minutes: leave after a grace period.
setTimeout(() => process.exit(), 300).unref()
