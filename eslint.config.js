// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import { importX } from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'

/** Deep imports past a package's public index. */
const DEEP_IMPORTS = {
  group: ['@shiioo/*/src/*', '@shiioo/*/dist/*'],
  message: 'Import a package through its public index.',
}

/**
 * The dependency direction of ARCHITECTURE.md: the workspace packages each one's source may import
 * (an arrow means "may import"). Importing any other @shiioo package fails lint; testkit is for
 * tests only, so no source imports it. Tests may import what they need.
 */
const MAY_IMPORT = {
  'apps/server': ['orchestrator', 'graphql', 'mcp', 'client', 'store-sqlite', 'core'],
  // no store: it opens a data dir through apps/server's composition root (`shiioo/compose`)
  'apps/mcp': ['orchestrator', 'mcp', 'client', 'core'],
  'packages/client': [],
  'packages/graphql': ['orchestrator', 'core'],
  'packages/orchestrator': ['engine', 'policy', 'capacity', 'mcp', 'core'],
  'packages/mcp': ['core'],
  'packages/engine': ['capacity', 'core'],
  'packages/capacity': ['core'],
  'packages/policy': ['core'],
  'packages/store-sqlite': ['core'],
  'packages/testkit': ['core'],
  'packages/core': [],
}

function dependencyDirection(dir, allowed) {
  const names = allowed.map((a) => `@shiioo/${a}`).join(', ')
  const patterns = [
    DEEP_IMPORTS,
    {
      regex: allowed.length === 0 ? '^@shiioo/' : `^@shiioo/(?!(?:${allowed.join('|')})(?:/|$))`,
      message: `${dir} may import ${names || 'no other workspace package'} (the dependency direction in ARCHITECTURE.md).`,
    },
  ]
  // the apps are leaves: apps/mcp composes Shiioo through apps/server's `shiioo/compose`, and
  // nothing imports apps/mcp
  patterns.push({ regex: '^shiioo-mcp(?:/|$)', message: 'shiioo-mcp is an app: nothing imports it.' })
  if (dir !== 'apps/mcp') {
    patterns.push({
      regex: '^shiioo(?:/|$)',
      message: 'only apps/mcp imports the shiioo app (its composition root, shiioo/compose).',
    })
  }
  if (dir === 'packages/core') {
    patterns.push({
      regex: '^(?!zod(?:/|$)|node:|\\.)',
      message: 'packages/core imports zod and node builtins only (ARCHITECTURE.md), so any app can afford it.',
    })
  }
  return {
    files: [`${dir}/src/**/*.ts`],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  }
}

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '**/drizzle/**', 'bench/.peers/**', 'data/**', '**/*.mjs', '**/*.js'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ alwaysTryTypes: true })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      'import-x/no-cycle': 'error',
      // another package's files only through its name, so the dependency direction below sees every import
      'import-x/no-relative-packages': 'error',
      'no-restricted-imports': ['error', { patterns: [DEEP_IMPORTS] }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read the environment only in the config module.' },
      ],
    },
  },
  ...Object.entries(MAY_IMPORT).map(([dir, allowed]) => dependencyDirection(dir, allowed)),
  {
    files: ['apps/server/src/config/**', '**/*.test.ts', '**/test/**', 'bench/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/*.test.ts', '**/test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
)
