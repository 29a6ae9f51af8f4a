import { readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli, tempDirs } from './helpers.js'

/**
 * Damage to a finished run's acknowledged records, as a user meets it through the CLI (issue 12):
 * reported as corruption naming the run and seq, never cut, the run never driven again.
 */

const EXAMPLE = fileURLToPath(new URL('../../../examples/workflows/linear-agent-pipeline.yaml', import.meta.url))
const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

function runFile(data: string, runId: string): string {
  const found = readdirSync(data, { recursive: true, withFileTypes: true }).find((e) => e.name === `${runId}.jsonl.gz`)
  return join(found!.parentPath, found!.name)
}

const damages: Record<string, (buf: Buffer) => Buffer> = {
  // the last commit (run.completed) removed whole: the file still ends at a record boundary
  'cut at a record boundary': (buf) => buf.subarray(0, buf.lastIndexOf(Buffer.from([0x1f, 0x8b, 0x08]))),
  'one byte flipped in the last record': (buf) => {
    const copy = Buffer.from(buf)
    copy[copy.length - 12]! ^= 0x20
    return copy
  },
}

describe('damaged records of a finished run', () => {
  for (const [name, damage] of Object.entries(damages)) {
    it(`${name}: verify, runs show, index rebuild and resume report it; nothing is cut or run again`, async () => {
      const cwd = await dirs.make()
      const run = await runCli(['run', EXAMPLE, '--input', 'topic=t', '--json'], { cwd })
      expect(run.code).toBe(0)
      const { runId } = JSON.parse(run.stdout) as { runId: string }
      const path = runFile(join(cwd, 'data'), runId)
      const original = readFileSync(path)
      writeFileSync(path, damage(original))
      if (name.startsWith('cut')) truncateSync(path, damage(original).length)
      const damaged = readFileSync(path)

      const verify = await runCli(['verify'], { cwd })
      expect(verify.code).toBe(1)
      expect(verify.stdout + verify.stderr).toMatch(new RegExp(`stream ${runId} \\(tenant default\\) seq \\d+`))
      expect(verify.stdout + verify.stderr).toMatch(/cut short|damage, not a torn tail/)
      expect(verify.stdout + verify.stderr).not.toMatch(/torn tail of/)

      const show = await runCli(['runs', 'show', runId], { cwd })
      expect(show.code).not.toBe(0)
      expect(show.stderr).toMatch(/acknowledged/)

      const rebuild = await runCli(['index', 'rebuild'], { cwd })
      expect(rebuild.stdout + rebuild.stderr).toMatch(new RegExp(`not indexed: stream ${runId}`))
      const resume = await runCli(['resume'], { cwd })
      expect(resume.stdout + resume.stderr).not.toMatch(/resuming run/)

      // the evidence is as the damage left it: nothing cut, nothing appended, no step re-executed
      expect(readFileSync(path).equals(damaged)).toBe(true)
    })
  }
})
