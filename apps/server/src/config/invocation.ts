/** What the environment says about how this process was started, for commands it prints to paste. */
export interface Invocation {
  /** PATH as this process got it. */
  path: string
  /** `npm_command` when npm started the process (`exec` for npx, `start`, `test`, `run-script` ...). */
  npmCommand: string | undefined
}

export function invocationFrom(env: Readonly<Record<string, string | undefined>>): Invocation {
  return { path: env.PATH ?? '', npmCommand: env.npm_command || undefined }
}
