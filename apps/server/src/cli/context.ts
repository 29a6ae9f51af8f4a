import type { CliIo } from './io.js'

export interface CommandContext {
  io: CliIo
  version: string
  cwd: string
  /** How a printed command starts so that it runs when pasted: `shiioo`, `npx shiioo` or `node <bin>` (see command-line.ts). */
  shiioo: string
  /** A command that finishes without throwing but reports a failure (e.g. `verify`) sets this. */
  setExitCode(code: number): void
}
