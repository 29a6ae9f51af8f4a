import type { CliIo } from './io.js'

export interface CommandContext {
  io: CliIo
  version: string
  cwd: string
  /** A command that finishes without throwing but reports a failure (e.g. `verify`) sets this. */
  setExitCode(code: number): void
}
