import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, assertBuilt, collect, shellEnv, tempDirs } from './helpers.js'

// The README's golden-fixture examples, run as a person would run them (in a shell, from the
// repository root, through npx) on a fresh copy of the fixture, and compared with what the README
// prints. Only what differs from run to run is masked: new run ids, durations, rates.

const GOLDEN_RUN = 'run_01M86CH3M00M0WV4MTNVGKY4KX'
const README_DIR = '/tmp/golden'
const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

interface Example {
  command: string
  output: string
}

/** Each `$ command` of the README's console blocks that use the golden fixture, with the lines printed after it. */
function readmeExamples(): Example[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```console\n([\s\S]*?)```/g)].map((m) => m[1]!)
  const examples: Example[] = []
  for (const block of blocks.filter((b) => b.includes(README_DIR))) {
    for (const line of block.split('\n')) {
      if (line.startsWith('$ ')) examples.push({ command: line.slice(2), output: '' })
      else if (line !== '' || examples.at(-1)?.output) examples.at(-1)!.output += line + '\n'
    }
  }
  return examples
}

function normalize(text: string): string {
  return text
    .replace(/run_[0-9A-HJKMNP-TV-Z]{26}/g, (id) => (id === GOLDEN_RUN ? id : 'run_<new>'))
    .replace(/ *\+\d+(\.\d+)?s/g, ' +<t>s')
    .replace(/\d+(\.\d+)? s\b/g, '<t> s')
    .replace(/\([\d,]+ events\/s\)/g, '(<n> events/s)')
    .split('\n')
    .filter((l) => !/^(verifying|rebuilding index): /.test(l)) // progress lines, timed
    .join('\n')
    .trimEnd()
}

describe('README: a run log read back (the golden fixture)', () => {
  const examples = readmeExamples()

  it('shows the commands of the fixture copied to a data dir', () => {
    expect(examples.map((e) => e.command.split(' --')[0])).toEqual([
      'cp -R packages/core/test/fixtures/golden/run-v1/. /tmp/golden',
      `npx shiioo events ${GOLDEN_RUN}`,
      'npx shiioo verify',
      'npx shiioo index rebuild',
      `npx shiioo runs show ${GOLDEN_RUN}`,
      `npx shiioo replay ${GOLDEN_RUN}`,
      `npx shiioo fork ${GOLDEN_RUN}`,
      `zcat /tmp/golden/events/2026/11/24/${GOLDEN_RUN}.jsonl.gz | head -1`,
    ])
  })

  it('each command succeeds and prints what the README shows', async () => {
    const dir = join(await dirs.make(), 'golden')
    for (const example of examples) {
      const command = example.command.split(README_DIR).join(dir)
      const child = spawn('sh', ['-c', `${command} 2>&1`], {
        cwd: REPO_ROOT,
        env: shellEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const result = await collect(child)
      expect({ command: example.command, code: result.code }).toEqual({ command: example.command, code: 0 })
      expect(normalize(result.stdout.split(dir).join(README_DIR))).toBe(normalize(example.output))
    }
  })
})
