/** Where a command writes: stdout for results, stderr for progress, messages and logs. */
export interface Output {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

export interface CliIo {
  out: Output
  err: Output
}
