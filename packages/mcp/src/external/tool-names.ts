import { createHash } from 'node:crypto'
import { ShiiooError } from '@shiioo/core'

/** The catalog's tool names: dotted segments of letters, digits, `_` and `-`, at most 128 characters. */
export const CATALOG_TOOL_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/
export const MAX_TOOL_NAME = 128

/** An external server's prefix: one segment of the catalog's names. */
export const SOURCE_PREFIX = /^[A-Za-z0-9_-]{1,40}$/

/**
 * The catalog name of an external server's tool: `<prefix>.<remote name>`, with each character the
 * catalog does not allow replaced by `_` and each empty dotted segment by `_` (`search issues/v2`
 * becomes `github.search_issues_v2`). A name over 128 characters is cut and ends with 8 hex digits
 * of the remote name's SHA-256. The same remote name always gives the same catalog name.
 */
export function catalogToolName(prefix: string, remote: string): string {
  const safe = remote
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .split('.')
    .map((segment) => segment || '_')
    .join('.')
  const name = `${prefix}.${safe}`
  if (name.length <= MAX_TOOL_NAME) return name
  const hash = createHash('sha256').update(remote).digest('hex').slice(0, 8)
  return `${name.slice(0, MAX_TOOL_NAME - 9).replace(/\.+$/, '')}_${hash}`
}

/**
 * Maps every remote name of a server to its catalog name; two remote names that map to the same
 * catalog name are refused with CONFLICT, naming both (the source would otherwise call the wrong one).
 */
export function mapToolNames(prefix: string, remotes: readonly string[]): Map<string, string> {
  const byCatalogName = new Map<string, string>()
  for (const remote of remotes) {
    const name = catalogToolName(prefix, remote)
    const other = byCatalogName.get(name)
    if (other !== undefined) {
      throw new ShiiooError(
        'CONFLICT',
        `mcp server "${prefix}": tools "${other}" and "${remote}" both map to the catalog name ${name}`,
        { details: { server: prefix, tools: [other, remote], name } },
      )
    }
    byCatalogName.set(name, remote)
  }
  return byCatalogName
}
