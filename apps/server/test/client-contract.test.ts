import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, assertBuilt } from './helpers.js'

/**
 * @shiioo/client is typed from a copy of the server's OpenAPI document: this fails while the copy,
 * or the types generated from it, differ from what this server generates (then run
 * `npm run generate:client` after a build, and commit both files).
 */

interface Snapshot {
  openApiSnapshot(): Promise<unknown>
  snapshotJson(doc: unknown): Promise<string>
  clientSchemaSource(doc: unknown): Promise<string>
}

let snapshot: Snapshot
beforeAll(async () => {
  assertBuilt()
  snapshot = (await import(pathToFileURL(join(REPO_ROOT, 'scripts', 'openapi-snapshot.mjs')).href)) as Snapshot
})

const committed = (path: string) => readFileSync(join(REPO_ROOT, 'packages', 'client', path), 'utf8')

describe("the client's contract", () => {
  it('openapi.json is the document this server serves', async () => {
    const doc = await snapshot.openApiSnapshot()
    expect(committed('openapi.json'), 'run `npm run generate:client` and commit the result').toBe(
      await snapshot.snapshotJson(doc),
    )
  })

  it('src/schema.ts is what openapi-typescript makes of it', async () => {
    const doc = JSON.parse(committed('openapi.json')) as unknown
    expect(committed('src/schema.ts'), 'run `npm run generate:client` and commit the result').toBe(
      await snapshot.clientSchemaSource(doc),
    )
  })
})
