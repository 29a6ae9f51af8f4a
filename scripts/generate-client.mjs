#!/usr/bin/env node
// Regenerates @shiioo/client's contract from the server: `packages/client/openapi.json` (the
// OpenAPI document the server serves at /api/openapi.json, with a fixed version) and
// `packages/client/src/schema.ts` (its TypeScript types, by openapi-typescript). Run after
// changing a route (`npm run generate:client`, after a build); a server test fails while either
// file differs from what the server generates.
import { writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { clientSchemaSource, openApiSnapshot, snapshotJson } from './openapi-snapshot.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const doc = await openApiSnapshot()
writeFileSync(join(root, 'packages/client/openapi.json'), await snapshotJson(doc))
writeFileSync(join(root, 'packages/client/src/schema.ts'), await clientSchemaSource(doc))
process.stderr.write('wrote packages/client/openapi.json and packages/client/src/schema.ts\n')
