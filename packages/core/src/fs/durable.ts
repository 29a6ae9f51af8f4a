import { closeSync, fsyncSync, mkdirSync, openSync, constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { dirname } from 'node:path'

/** fsyncs a directory so that entries created or renamed in it survive a crash. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * `mkdir -p` whose new directories are durable: every directory it creates is fsynced into its
 * parent. Returns quickly when the directory already exists.
 */
export function ensureDurableDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true })
  if (first === undefined) return
  // fsync the parent of every directory that was created, from the deepest up to `first`
  let d = dir
  for (;;) {
    fsyncDir(dirname(d))
    if (d === first) break
    d = dirname(d)
  }
}

/**
 * Group fsync of directories: many files created in one directory at about the same time (new
 * runs of a day) share one directory fsync. `sync(dir)` resolves after an fsync of `dir` that
 * started after the call, so the caller's new entry is covered.
 */
export class DirSyncer {
  private readonly state = new Map<string, { running: Promise<void>; next: Promise<void> | null }>()

  sync(dir: string): Promise<void> {
    const s = this.state.get(dir)
    if (!s) {
      const running = this.run(dir)
      this.state.set(dir, { running, next: null })
      return running
    }
    s.next ??= s.running.then(
      () => this.promote(dir),
      () => this.promote(dir),
    )
    return s.next
  }

  private promote(dir: string): Promise<void> {
    const s = this.state.get(dir)!
    const running = this.run(dir)
    s.running = running
    s.next = null
    return running
  }

  private async run(dir: string): Promise<void> {
    try {
      const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY)
      try {
        await fh.sync()
      } finally {
        await fh.close()
      }
    } finally {
      const s = this.state.get(dir)
      if (s && s.next === null) queueMicrotask(() => this.settle(dir))
    }
  }

  private settle(dir: string): void {
    const s = this.state.get(dir)
    if (s && s.next === null) this.state.delete(dir)
  }
}
