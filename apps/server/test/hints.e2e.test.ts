import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, assertBuilt, collect, shellEnv, tempDirs } from './helpers.js'

// The commands the CLI prints for a person to paste (`... decide <run> <step> approve`, `... resume`)
// must run as printed, in a shell, whichever of the README's ways started the CLI.

const APPROVAL = join(REPO_ROOT, 'examples', 'workflows', 'approval-gate.yaml')
const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

function sh(script: string, cwd: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn('sh', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Waits until the child's stderr has a line matching `pattern`; returns the first group. */
function printed(child: ChildProcess, pattern: RegExp): Promise<string> {
  let seen = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${pattern} not printed; stderr:\n${seen}`)), 30_000)
    child.stderr?.on('data', (chunk: Buffer | string) => {
      seen += String(chunk)
      const m = pattern.exec(seen)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
  })
}

const WAYS = [
  {
    name: 'npx shiioo, from the repository root',
    start: 'npx shiioo',
    prefix: 'npx shiioo',
    env: () => shellEnv(),
    // npx finds the CLI from the repository's folders
    pasteIn: () => REPO_ROOT,
  },
  {
    name: 'shiioo, with the PATH line the README gives',
    start: 'export PATH="$PWD/node_modules/.bin:$PATH" && shiioo',
    prefix: 'shiioo',
    env: () => shellEnv(),
    // another terminal where the same line was run: any folder
    pasteIn: () => dirs.make(),
    pasteEnv: () => shellEnv(join(REPO_ROOT, 'node_modules', '.bin')),
  },
  {
    name: 'node apps/server/bin/shiioo.js',
    start: 'node apps/server/bin/shiioo.js',
    prefix: 'node ',
    env: () => shellEnv(),
    pasteIn: () => dirs.make(),
  },
]

it('tests the PATH line the README gives', () => {
  expect(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')).toContain(
    `\n${WAYS[1]!.start.replace(' && shiioo', '')}\nshiioo --version\n`,
  )
})

describe.each(WAYS)('hints when the CLI is started as $name', (way) => {
  it('the printed decide command ends the approval wait when pasted into a shell', async () => {
    const data = join(await dirs.make(), 'data')
    const run = sh(`${way.start} run ${APPROVAL} --input version=v9 --data-dir ${data}`, REPO_ROOT, way.env())
    const done = collect(run)
    const command = await printed(run, /^ +decide from another terminal: (.+)$/m)
    expect(command.startsWith(`${way.prefix}`)).toBe(true)
    expect(command).toMatch(/ decide run_\w{26} review approve --data-dir \S+$/)

    const pasted = await collect(sh(command, await way.pasteIn(), (way.pasteEnv ?? way.env)()))
    expect(pasted.stderr).not.toMatch(/not found|error/i)
    expect(pasted.code).toBe(0)
    expect(pasted.stdout).toMatch(/^approved step review of run run_\w{26}$/m)

    const result = await done
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/^ +\+\S+ +review approved by /m)
  })

  it('the printed resume command drives a detached run to its end when pasted', async () => {
    const data = join(await dirs.make(), 'data')
    const detached = await collect(
      sh(`${way.start} run ${APPROVAL} --input version=v9 --detach --data-dir ${data}`, REPO_ROOT, way.env()),
    )
    expect(detached.code).toBe(0)
    const runId = detached.stdout.trim()
    const resume = /it continues with `([^`]+ resume[^`]*)`/.exec(detached.stderr)?.[1]
    expect(resume).toBeDefined()
    expect(resume!.startsWith(way.prefix)).toBe(true)

    const pasteIn = await way.pasteIn()
    const pasteEnv = (way.pasteEnv ?? way.env)()
    const decide = resume!.replace(/ resume /, ` decide ${runId} review approve `)
    expect((await collect(sh(decide, pasteIn, pasteEnv))).code).toBe(0)
    const resumed = await collect(sh(resume!, pasteIn, pasteEnv))
    expect(resumed.stderr).toContain(`run ${runId} completed`)
    expect(resumed.code).toBe(0)
  })
})
