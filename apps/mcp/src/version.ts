import { readFileSync } from 'node:fs'

/** This package's version; `src/` and `dist/` both sit one level below package.json. */
export function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
}
