import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { reportError } from '../src/cli/exit-codes.js'
import { assertBuilt, runCli, tempDirs } from './helpers.js'

/**
 * Bad input is answered as bad input (exit 2, a message naming the problem), never as an internal
 * error; a damaged definition is named as damaged (exit 1), not as missing.
 */

const EXAMPLES = fileURLToPath(new URL('../../../examples/workflows/', import.meta.url))
const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

function nested(levels: number): string {
  return '{"a":'.repeat(levels) + '1' + '}'.repeat(levels)
}

const OBJECT_INPUT =
  'name: takes-x\ninputs:\n  x: { type: object }\nsteps:\n  - id: a\n    kind: transform\n    output: 1\n'

describe.concurrent('bad input exits 2 with a message', () => {
  it('a data dir that is a file, or lies under one, for a command that makes it', async () => {
    const cwd = await dirs.make()
    await writeFile(join(cwd, 'flow.yaml'), OBJECT_INPUT)
    await writeFile(join(cwd, 'a-file'), '')
    const file = await runCli(['run', 'flow.yaml', '--input', 'x={}', '--data-dir', 'a-file'], { cwd })
    expect(file.code).toBe(2)
    expect(file.stderr).toBe(
      `error: data dir ${join(cwd, 'a-file')} is a file, not a directory (set --data-dir or SHIIOO_DATA_DIR)\n`,
    )
    const under = await runCli(['run', 'flow.yaml', '--input', 'x={}', '--data-dir', 'a-file/data'], { cwd })
    expect(under.code).toBe(2)
    expect(under.stderr).toBe(
      `error: data dir ${join(cwd, 'a-file', 'data')} cannot be made: a part of its path is a file, not a directory ` +
        '(set --data-dir or SHIIOO_DATA_DIR)\n',
    )
  })

  it('an input nested past the limit, however deep, is named as such and changes nothing', async () => {
    const cwd = await dirs.make()
    await writeFile(join(cwd, 'flow.yaml'), OBJECT_INPUT)
    for (const levels of [64, 5000]) {
      const r = await runCli(['run', 'flow.yaml', '--input', `x=${nested(levels)}`], { cwd })
      expect(r.code).toBe(2)
      expect(r.stderr).not.toContain('internal error')
      expect(r.stderr).toContain(
        'error: bad run input:\ninputs.x: input "x" nests lists and objects more than 63 levels deep, the most a run input may',
      )
    }
    const ok = await runCli(['run', 'flow.yaml', '--input', `x=${nested(63)}`], { cwd })
    expect(ok.code).toBe(0)
    expect(await readdir(join(cwd, 'data', 'events'), { recursive: true })).toHaveLength(4) // one run: y/m/d/file
  })

  it('decide on a step that does not exist, or is not an approval, is a bad argument', async () => {
    const cwd = await dirs.make()
    const started = await runCli(
      ['run', join(EXAMPLES, 'approval-gate.yaml'), '--input', 'version=v1', '--detach', '--log-level', 'silent'],
      { cwd },
    )
    expect(started.code).toBe(0)
    const runId = started.stdout.trim()
    const missing = await runCli(['decide', runId, 'nosuch', 'approve'], { cwd })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe(`error: run ${runId} has no step "nosuch"; approval steps: review\n`)
    const agent = await runCli(['decide', runId, 'draft', 'approve'], { cwd })
    expect(agent.code).toBe(2)
    expect(agent.stderr).toBe('error: step "draft" is an agent step, not an approval; approval steps: review\n')
  })
})

describe('a damaged workflow definition', () => {
  it('is named as damaged by replay and runs show, not as missing (exit 1)', async () => {
    const cwd = await dirs.make()
    const first = await runCli(['run', join(EXAMPLES, 'linear-agent-pipeline.yaml'), '--input', 'topic=t', '--json'], {
      cwd,
    })
    expect(first.code).toBe(0)
    const { runId, workflow } = JSON.parse(first.stdout) as { runId: string; workflow: { hash: string } }
    const blob = join(cwd, 'data', 'blobs', workflow.hash.slice(0, 2), workflow.hash)
    await chmod(blob, 0o644)
    await writeFile(blob, '{"name":"linear-agent-pipeline","steps":[]}')
    const replay = await runCli(['replay', runId], { cwd })
    expect(replay.code).toBe(1)
    expect(replay.stderr).toMatch(
      new RegExp(
        `^error: cannot replay run ${runId}: its workflow definition "linear-agent-pipeline" is damaged in tenant default ` +
          `\\(blob ${workflow.hash} is damaged: its content hashes to [0-9a-f]{64}\\)`,
      ),
    )
    const show = await runCli(['runs', 'show', runId], { cwd })
    expect(show.code).toBe(0)
    expect(show.stdout).toContain('linear-agent-pipeline (definition damaged)')
  })
})

describe('a file system error', () => {
  it('is bad input when the data dir cannot be written (EROFS, EACCES), with what to do; never an internal error', () => {
    const erofs = Object.assign(new Error("EROFS: read-only file system, unlink '/ro/index.sqlite'"), {
      code: 'EROFS',
      syscall: 'unlink',
      path: '/ro/index.sqlite',
    })
    const lines: string[] = []
    expect(reportError(erofs, { write: (t: string) => lines.push(t) })).toBe(2)
    expect(lines.join('')).toBe(
      'error: the file system is read-only (unlink /ro/index.sqlite)\n' +
        'this command writes to its data dir: give it one it may write to (--data-dir)\n',
    )
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
      syscall: 'write',
    })
    lines.length = 0
    expect(reportError(full, { write: (t: string) => lines.push(t) })).toBe(1)
    expect(lines.join('')).toBe('error: no space left on the device (write)\nthis may be temporary: try again\n')
  })

  it('index rebuild where the index cannot be removed exits 2 naming the path', async () => {
    const cwd = await dirs.make()
    const data = join(cwd, 'data')
    await mkdir(data)
    // a directory where the index file goes: removing it fails as a file system error would
    await mkdir(join(data, 'index.sqlite'))
    await writeFile(join(data, 'index.sqlite', 'keep'), '')
    const r = await runCli(['index', 'rebuild'], { cwd })
    expect(r.stderr).toBe(
      `error: the path is a directory, not a file (rm ${join(data, 'index.sqlite')})\n` +
        'is --data-dir the data dir? its folders are not laid out as shiioo makes them\n',
    )
    expect(r.code).toBe(2)
  })
})
