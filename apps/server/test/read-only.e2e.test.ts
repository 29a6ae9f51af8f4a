import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, runCli, tempDirs } from './helpers.js'

/**
 * Commands that only read leave the event log's files as they were: no journal segment made or
 * renamed from a spare, no lock or identity file (the index, a cache, may be brought up to date).
 */

const EXAMPLES = fileURLToPath(new URL('../../../examples/workflows/', import.meta.url))
const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

/** Every file of the data dir but the index's, with its size, inode and modification time. */
function files(dataDir: string): string[] {
  return readdirSync(dataDir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.name.startsWith('index.sqlite'))
    .map((e) => {
      const path = join(e.parentPath, e.name)
      const s = statSync(path)
      return `${path.slice(dataDir.length)} ${e.isDirectory() ? 'dir' : s.size} ${s.ino} ${s.mtimeMs}`
    })
    .sort()
}

describe('read-only commands', () => {
  it('events, runs list/show/state, replay, costs and verify change no file of the event log', async () => {
    const cwd = await dirs.make()
    const run = await runCli(['run', join(EXAMPLES, 'linear-agent-pipeline.yaml'), '--input', 'topic=t', '--json'], {
      cwd,
    })
    expect(run.code).toBe(0)
    const { runId } = JSON.parse(run.stdout) as { runId: string }
    const data = join(cwd, 'data')
    expect(readdirSync(join(data, 'journal')).some((n) => n.startsWith('spare-'))).toBe(true)
    const before = files(data)
    for (const command of [
      ['events', runId],
      ['runs', 'list'],
      ['runs', 'show', runId],
      ['runs', 'state', runId, '--at', '2'],
      ['replay', runId],
      ['costs'],
      ['verify'],
    ]) {
      const r = await runCli(command, { cwd })
      expect({ command, code: r.code, stderr: r.stderr.replace(/^verifying.*\n/gm, '') }).toEqual({
        command,
        code: 0,
        stderr: '',
      })
      expect(files(data), command.join(' ')).toEqual(before)
    }
  })
})
