import type { Output } from './io.js'

export interface ProgressOptions {
  out: Output
  /** What `done`/`total` count, e.g. `streams`. */
  unit: string
  /** Names the task on lines written when `out` is not a terminal, and on counters. */
  label: string
  width?: number
  now?: () => number
}

export interface Progress {
  /** `total` undefined: the amount of work is not known up front, so only a count is shown. */
  update(done: number, total: number | undefined, detail?: string): void
  finish(): void
}

const REDRAW_MS = 100
const PLAIN_COUNTER_MS = 5_000

function bar(ratio: number, width: number): string {
  const filled = Math.round(ratio * width)
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`
}

/**
 * On a terminal, one line redrawn in place: `[#####-----] 52% 5200/10000 streams 104000 events`.
 * Elsewhere (a log file, CI), a plain line each time another tenth is done, or every few seconds
 * when the total is unknown.
 */
export function createProgress(options: ProgressOptions): Progress {
  const width = options.width ?? 20
  const now = options.now ?? Date.now
  const tty = options.out.isTTY === true
  let lastDraw = -Infinity
  let lastTenth = -1
  let drawn = false
  // the newest line not yet written (throttled); finish() writes it, so the last state shows
  let pending: string | null = null

  const write = (line: string) => {
    if (tty) options.out.write(`\r${line}\x1b[K`)
    else options.out.write(`${line}\n`)
    drawn = true
    lastDraw = now()
    pending = null
  }

  return {
    update(done, total, detail) {
      const tail = detail ? ' ' + detail : ''
      if (total === undefined) {
        const line = `${options.label}: ${done} ${options.unit}${tail}`
        if (now() - lastDraw >= (tty ? REDRAW_MS : PLAIN_COUNTER_MS)) write(line)
        else pending = line
        return
      }
      const ratio = total > 0 ? Math.min(1, done / total) : 1
      const percent = Math.floor(ratio * 100)
      const text = `${percent}% ${done}/${total} ${options.unit}${tail}`
      if (tty) {
        const line = `${bar(ratio, width)} ${text}`
        if (done >= total || now() - lastDraw >= REDRAW_MS) write(line)
        else pending = line
        return
      }
      const tenth = Math.floor(percent / 10)
      if (tenth > lastTenth) {
        lastTenth = tenth
        write(`${options.label}: ${text}`)
      }
    },
    finish() {
      if (pending !== null) write(pending)
      if (tty && drawn) options.out.write('\n')
    },
  }
}
