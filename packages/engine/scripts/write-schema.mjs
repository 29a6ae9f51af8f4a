#!/usr/bin/env node
// Regenerates schema/workflow.schema.json from the zod schema (run `npm run schema` after changing it).
// A test fails while the committed file differs from what the code generates.
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as prettier from 'prettier'
import { workflowJsonSchema } from '../dist/index.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const target = join(root, 'schema', 'workflow.schema.json')
const options = (await prettier.resolveConfig(target)) ?? {}
const text = await prettier.format(JSON.stringify(workflowJsonSchema(), null, 2), { ...options, parser: 'json' })
writeFileSync(target, text)
console.log(`wrote ${target}`)
