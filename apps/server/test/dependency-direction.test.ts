import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import tseslint from 'typescript-eslint'
import { beforeAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

/**
 * The repository's own eslint.config.js, as `npm run lint` runs it, over a file that is not on
 * disk. Type-aware rules are switched off for it (they need the file in a TypeScript project);
 * the dependency direction is not type-aware, so it is checked exactly as in `npm run lint`.
 */
let eslint: ESLint
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT, overrideConfig: tseslint.configs.disableTypeChecked })
})

async function importProblems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${file}` })
  // a file ESLint could not parse has no import problems to report: that must not pass as "allowed"
  expect(result!.messages.filter((m) => m.fatal)).toEqual([])
  return result!.messages
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'import-x/no-relative-packages')
    .map((m) => m.message)
}

describe('the dependency direction (ARCHITECTURE.md) fails lint', () => {
  const forbidden: Array<[string, string, string]> = [
    [
      'packages/orchestrator/src/probe.ts',
      "import { openSqliteIndex } from '@shiioo/store-sqlite'\nexport const open = openSqliteIndex\n",
      'packages/orchestrator may import @shiioo/engine, @shiioo/policy, @shiioo/capacity, @shiioo/mcp, @shiioo/core',
    ],
    [
      'apps/server/src/cli/probe.ts',
      "import type { RunState } from '@shiioo/engine'\nexport type State = RunState\n",
      'apps/server may import @shiioo/orchestrator, @shiioo/graphql, @shiioo/mcp, @shiioo/client, @shiioo/store-sqlite, @shiioo/core',
    ],
    [
      'packages/client/src/probe.ts',
      "import { ShiiooError } from '@shiioo/core'\nexport const e = ShiiooError\n",
      'packages/client may import no other workspace package',
    ],
    [
      'packages/graphql/src/probe.ts',
      "import { Engine } from '@shiioo/engine'\nexport const engine = Engine\n",
      'packages/graphql may import @shiioo/orchestrator, @shiioo/core',
    ],
    [
      'packages/engine/src/probe.ts',
      "import { createOrchestrator } from '@shiioo/orchestrator'\nexport const create = createOrchestrator\n",
      'packages/engine may import @shiioo/capacity, @shiioo/core',
    ],
    [
      'packages/store-sqlite/src/probe.ts',
      "import { FakeClock } from '@shiioo/testkit'\nexport const clock = new FakeClock()\n",
      'packages/store-sqlite may import @shiioo/core',
    ],
    [
      'packages/capacity/src/probe.ts',
      "import { Engine } from '@shiioo/engine'\nexport const engine = Engine\n",
      'packages/capacity may import @shiioo/core',
    ],
    [
      'packages/core/src/probe.ts',
      "import { Engine } from '@shiioo/engine'\nexport const engine = Engine\n",
      'packages/core may import no other workspace package',
    ],
    [
      'packages/core/src/probe.ts',
      "import { parse } from 'yaml'\nexport const read = parse\n",
      'packages/core imports zod and node builtins only',
    ],
    [
      'apps/server/src/probe.ts',
      "import type { RunService } from '@shiioo/orchestrator/src/run/types.js'\nexport type Runs = RunService\n",
      'Import a package through its public index.',
    ],
    // apps/mcp picks no adapter: it opens a data dir through apps/server's composition root
    [
      'apps/mcp/src/probe.ts',
      "import { openSqliteIndex } from '@shiioo/store-sqlite'\nexport const open = openSqliteIndex\n",
      'apps/mcp may import @shiioo/orchestrator, @shiioo/mcp, @shiioo/client, @shiioo/core',
    ],
    [
      'packages/orchestrator/src/probe.ts',
      "import { openOrchestrator } from 'shiioo/compose'\nexport const open = openOrchestrator\n",
      'only apps/mcp imports the shiioo app',
    ],
    [
      'apps/server/src/probe.ts',
      "import { runShiiooMcp } from 'shiioo-mcp'\nexport const run = runShiiooMcp\n",
      'shiioo-mcp is an app: nothing imports it.',
    ],
    [
      'packages/orchestrator/src/probe.ts',
      "import { Engine } from '../../engine/src/index.js'\nexport const engine = Engine\n",
      'Relative import from another package is not allowed',
    ],
  ]
  it.each(forbidden)('%s: %s', async (file, code, message) => {
    expect(await importProblems(file, code)).toEqual(expect.arrayContaining([expect.stringContaining(message)]))
  })
})

describe('imports along the dependency direction pass lint', () => {
  const allowed: Array<[string, string]> = [
    [
      'apps/server/src/probe.ts',
      "import { createOrchestrator } from '@shiioo/orchestrator'\nimport { openSqliteIndex } from '@shiioo/store-sqlite'\n" +
        "import { ShiiooError } from '@shiioo/core'\nexport const all = [createOrchestrator, openSqliteIndex, ShiiooError]\n",
    ],
    [
      'apps/mcp/src/probe.ts',
      "import { openOrchestrator } from 'shiioo/compose'\nimport { mcpToolsOf } from '@shiioo/orchestrator'\n" +
        "import { createShiiooMcpServer } from '@shiioo/mcp'\nexport const all = [openOrchestrator, mcpToolsOf, createShiiooMcpServer]\n",
    ],
    [
      'packages/orchestrator/src/probe.ts',
      "import { Engine } from '@shiioo/engine'\nimport { CapacityPool } from '@shiioo/capacity'\n" +
        'export const all = [Engine, CapacityPool]\n',
    ],
    [
      'packages/core/src/probe.ts',
      "import { z } from 'zod'\nimport { join } from 'node:path'\nimport { ShiiooError } from './errors.js'\nexport const all = [z, join, ShiiooError]\n",
    ],
    // tests may use the testkit and a concrete store
    [
      'packages/orchestrator/test/probe.test.ts',
      "import { FakeClock } from '@shiioo/testkit'\nimport { openSqliteIndex } from '@shiioo/store-sqlite'\nexport const all = [FakeClock, openSqliteIndex]\n",
    ],
  ]
  it.each(allowed)('%s', async (file, code) => {
    expect(await importProblems(file, code)).toEqual([])
  })
})
