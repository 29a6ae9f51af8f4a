import { describe, expect, it } from 'vitest'
import { catalogToolName } from '../src/index.js'
import { CATALOG_TOOL_NAME, MAX_TOOL_NAME, mapToolNames } from '../src/external/tool-names.js'

describe('catalogToolName', () => {
  it.each([
    ['search_issues', 'github.search_issues'],
    ['search issues/v2', 'github.search_issues_v2'],
    ['issues.search', 'github.issues.search'],
    ['.hidden..tool.', 'github._.hidden._.tool._'],
    ['größe', 'github.gr__e'],
    ['', 'github._'],
  ])('maps %j to %j', (remote, name) => {
    expect(catalogToolName('github', remote)).toBe(name)
    expect(name).toMatch(CATALOG_TOOL_NAME)
  })

  it('cuts a name over 128 characters and ends it with a hash of the remote name', () => {
    const long = catalogToolName('github', 'x'.repeat(200))
    expect(long).toHaveLength(MAX_TOOL_NAME)
    expect(long).toMatch(/^github\.x+_[0-9a-f]{8}$/)
    expect(long).toMatch(CATALOG_TOOL_NAME)
    expect(catalogToolName('github', 'x'.repeat(201))).not.toBe(long)
    expect(catalogToolName('github', 'x'.repeat(200))).toBe(long)
  })

  it('refuses two remote names with one catalog name, with CONFLICT', () => {
    expect([...mapToolNames('gh', ['a b', 'c'])]).toEqual([
      ['gh.a_b', 'a b'],
      ['gh.c', 'c'],
    ])
    expect(() => mapToolNames('gh', ['a b', 'a/b'])).toThrow(
      'mcp server "gh": tools "a b" and "a/b" both map to the catalog name gh.a_b',
    )
  })
})
