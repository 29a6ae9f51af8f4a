/** The first SIGINT or SIGTERM while armed; a second one gets Node's default handling (exit now). */
export interface Interruption {
  readonly signalled: Promise<NodeJS.Signals>
  /** Stops listening (the command ended on its own). */
  dispose(): void
}

export function onInterrupt(): Interruption {
  let on: (signal: NodeJS.Signals) => void = () => {}
  const dispose = () => {
    process.off('SIGINT', on)
    process.off('SIGTERM', on)
  }
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    on = (signal) => {
      dispose()
      resolve(signal)
    }
  })
  process.on('SIGINT', on)
  process.on('SIGTERM', on)
  return { signalled, dispose }
}
