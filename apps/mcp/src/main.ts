import { runShiiooMcp } from './program.js'

process.exitCode = await runShiiooMcp(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
})
// everything the session owned is closed by now; a timer some library left armed must not keep
// the process alive after its client has gone
setTimeout(() => process.exit(), 300).unref()
