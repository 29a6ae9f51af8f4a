// Shared helpers for the benchmarks: timing, percentiles, temp dirs, and the raw disk floor.
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function tempDir(prefix) {
  return mkdtempSync(join(process.env.SHIIOO_BENCH_DIR ?? tmpdir(), `shiioo-bench-${prefix}-`))
}

/**
 * Removes a suite's data at once, or, under `npm run bench` (SHIIOO_BENCH_KEEP=1), leaves it for
 * the end of the whole run: on ext4 without a journal (as on this VM) the filesystem avoids reusing
 * inodes freed in the last few minutes, so after a large delete every new file costs a scan past
 * them (0.1-0.4 ms instead of about 0.015 ms), and the next suite, which creates a file per run,
 * would measure the previous suite's cleanup.
 */
export function removeDir(dir) {
  if (process.env.SHIIOO_BENCH_KEEP === '1') return
  rmSync(dir, { recursive: true, force: true })
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** The physical limit: append 300 bytes and fdatasync, one file, one thread, as fast as the disk allows. */
export function rawFsyncRate(dir, ms = 2000) {
  const fd = openSync(join(dir, 'raw-fsync.bin'), 'w')
  const buf = Buffer.alloc(300, 120)
  const lat = []
  const end = performance.now() + ms
  let n = 0
  while (performance.now() < end) {
    const t = performance.now()
    writeSync(fd, buf)
    fdatasyncSync(fd)
    lat.push(performance.now() - t)
    n++
  }
  closeSync(fd)
  lat.sort((a, b) => a - b)
  return { perSecond: n / (ms / 1000), p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) }
}

export function progress(label) {
  process.stderr.write(`  ${label}...\n`)
}

/**
 * What creating a file costs on this disk right now (p50 of `count` creates, in microseconds):
 * the engine creates one per run. Normally about 15 us here; for minutes after many files were
 * deleted, ext4 without a journal scans past the freed inodes and a create takes 100-400 us.
 */
export function fileCreateP50Us(dir, count = 500) {
  const sub = join(dir, 'create-floor')
  mkdirSync(sub, { recursive: true })
  const lat = []
  for (let i = 0; i < count; i++) {
    const t = performance.now()
    closeSync(openSync(join(sub, `f${i}`), 'wx'))
    lat.push(performance.now() - t)
  }
  lat.sort((a, b) => a - b)
  return Math.round(percentile(lat, 50) * 1000)
}
