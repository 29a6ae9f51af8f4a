import { closeSync, fsyncSync, mkdirSync, openSync, constants } from 'node:fs'
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
