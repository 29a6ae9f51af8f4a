import { ShiiooError } from '@shiioo/core'

/** `<namespace>.<name>[.<more>]`: letters, digits, `_` and `-`, at least one dot, no empty part. */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/
export const MAX_TOOL_NAME_LENGTH = 128

export function isToolName(name: string): boolean {
  return name.length <= MAX_TOOL_NAME_LENGTH && TOOL_NAME_PATTERN.test(name)
}

/** Refuses a name a source offers that the catalog cannot list (INVALID_INPUT naming the source). */
export function checkToolName(name: string, sourceId: string): void {
  if (isToolName(name)) return
  throw new ShiiooError(
    'INVALID_INPUT',
    `tool source ${sourceId} offers a tool named ${JSON.stringify(name.slice(0, 200))}: a tool name is ` +
      `<namespace>.<name> of letters, digits, '_', '-' and dots, at most ${MAX_TOOL_NAME_LENGTH} characters`,
    { details: { source: sourceId, tool: name.slice(0, 200) } },
  )
}

/** Levenshtein distance, one row at a time (names are short). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution))
    }
    previous = current
  }
  return previous[b.length]!
}

/**
 * Up to `most` of `names` close to `wanted`, closest first: a typo (a third of the name's length, at
 * least 2 edits) or the same name in another letter case.
 */
export function closeMatches(wanted: string, names: Iterable<string>, most = 3): string[] {
  if (wanted.length > 2 * MAX_TOOL_NAME_LENGTH) return []
  const target = wanted.toLowerCase()
  const limit = Math.max(2, Math.floor(target.length / 3))
  const scored: { name: string; distance: number }[] = []
  for (const name of names) {
    const distance = editDistance(target, name.toLowerCase())
    if (distance <= limit) scored.push({ name, distance })
  }
  scored.sort((x, y) => x.distance - y.distance || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
  return scored.slice(0, most).map((s) => s.name)
}
