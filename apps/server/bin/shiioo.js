#!/usr/bin/env node
// The event log fsyncs many streams in parallel and each fsync holds one of libuv's threadpool
// threads (4 by default), so appends would queue behind each other. libuv sizes the pool when it is
// first used, so this runs before anything is imported (static imports would be evaluated first).
process.env.UV_THREADPOOL_SIZE ??= '64'

const { existsSync } = await import('node:fs')
const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  console.error('shiioo is not built yet: run `npm run build` (or `npm start`) in the repository root')
  process.exit(1)
}
await import(main.href)
