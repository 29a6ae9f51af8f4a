// Shared helpers for the benchmarks: timing, percentiles, temp dirs, and the raw disk floor.
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function tempDir(prefix) {
  return mkdtempSync(join(process.env.SHIIOO_BENCH_DIR ?? tmpdir(), `shiioo-bench-${prefix}-`))
}

export function removeDir(dir) {
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
