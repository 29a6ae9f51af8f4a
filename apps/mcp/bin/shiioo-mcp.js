#!/usr/bin/env node
// shiioo-mcp: Shiioo as an MCP server over stdio. stdout carries the protocol only; every message
// for a person (and every log line) goes to stderr.
// The event log fsyncs many streams in parallel on libuv's threadpool (see apps/server/bin/shiioo.js);
// libuv sizes the pool when first used, so this runs before anything is imported.
process.env.UV_THREADPOOL_SIZE ??= '64'

const { existsSync } = await import('node:fs')
const main = new URL('../dist/main.js', import.meta.url)
if (!existsSync(main)) {
  console.error('shiioo-mcp is not built yet: run `npm run build` in the repository root')
  process.exit(1)
}
await import(main.href)
