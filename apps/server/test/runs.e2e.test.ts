import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli as runInProcess } from '../src/cli/program.js'
import type { CliResult } from './helpers.js'
import { BIN, assertBuilt, cleanEnv, runCli, startServe, tempDirs } from './helpers.js'

const EXAMPLES = fileURLToPath(new URL('../../../examples/workflows/', import.meta.url))
const example = (name: string) => join(EXAMPLES, `${name}.yaml`)

const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

/** `shiioo ...args` in `cwd` on its ./data. */
function shiioo(cwd: string, ...args: string[]): Promise<CliResult> {
  return runCli(args, { cwd })
}

function json<T = Record<string, unknown>>(result: CliResult): T {
  expect(result.stderr).not.toMatch(/^error:/m)
  return JSON.parse(result.stdout) as T
}

const RUN_ID = /run_[0-9A-HJKMNP-TV-Z]{26}/

/** The run's status once it is `wanted`, or the last one seen after 20 s of looking. */
async function statusWithin(cwd: string, runId: string, wanted: string): Promise<string> {
  let status = ''
  for (let i = 0; i < 100 && status !== wanted; i++) {
    await new Promise((r) => setTimeout(r, 200))
    status = (await shiioo(cwd, 'runs', 'show', runId, '--json').then(json<{ status: string }>)).status
  }
  return status
}

describe.concurrent('shiioo run', () => {
  it('runs a workflow file to the end: progress on stderr, the output on stdout, exit 0', async () => {
    const cwd = await dirs.make()
    const r = await shiioo(cwd, 'run', example('linear-agent-pipeline'), '--input', 'topic=durable agents')
    expect(r.stderr).toMatch(new RegExp(`^run ${RUN_ID.source} \\(workflow linear-agent-pipeline\\)$`, 'm'))
    for (const step of ['research', 'draft', 'edit', 'package']) {
      expect(r.stderr).toMatch(new RegExp(`^ +\\+\\d+\\.\\d+s  ${step} started$`, 'm'))
      expect(r.stderr).toMatch(new RegExp(`^ +\\+\\d+\\.\\d+s  ${step} completed in `, 'm'))
    }
    expect(r.stderr).toMatch(/^run run_\w+ completed in \d/m)
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ topic: 'durable agents', brief: expect.stringContaining('stand-in') })
  })

  it('prints the outcome as JSON with --json, parsing --input values as JSON when they parse', async () => {
    const cwd = await dirs.make()
    const r = await shiioo(
      cwd,
      'run',
      example('fanout-foreach'),
      '--json',
      '--input',
      'documents=[{"title":"t","text":"x"}]',
    )
    expect(r.code).toBe(0)
    const outcome = json(r)
    expect(outcome).toMatchObject({
      runId: expect.stringMatching(RUN_ID),
      workflow: { name: 'fanout-foreach', hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
      status: 'completed',
      error: null,
      output: { count: 1, titles: ['t'] },
    })
    expect(outcome.durationMs).toEqual(expect.any(Number))
    // the run is in the index for the next command
    const list = json<{ items: Array<Record<string, unknown>> }>(await shiioo(cwd, 'runs', 'list', '--json'))
    expect(list.items).toMatchObject([
      { runId: outcome.runId, workflow: { name: 'fanout-foreach' }, status: 'completed', stepCount: 3 },
    ])
  })

  it('refuses a bad workflow file naming the problem and its line, with exit code 2', async () => {
    const cwd = await dirs.make()
    const file = join(cwd, 'bad.yaml')
    await writeFile(
      file,
      'name: bad\nsteps:\n  - id: a\n    kind: agent\n    role: r\n    prompt: hi\n    needs: [b]\n',
    )
    const bad = await shiioo(cwd, 'run', 'bad.yaml')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('error: invalid workflow ./bad.yaml (1 problem):')
    expect(bad.stderr).toContain('steps[0].needs[0] (line 7, column 13): step "a" needs "b", which is not a step')
    expect(bad.stdout).toBe('')

    const fresh = await dirs.make()
    const missing = await shiioo(fresh, 'run', 'nope.yaml')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe(
      `error: workflow file nope.yaml does not exist (${join(fresh, 'nope.yaml')}): give the path of a .yaml or .json ` +
        `workflow definition, relative to the working directory ${fresh}\n`,
    )
    expect(existsSync(join(fresh, 'data'))).toBe(false) // nothing was started or written
    const underFile = await shiioo(cwd, 'run', 'bad.yaml/x.yaml')
    expect(underFile.code).toBe(2)
    expect(underFile.stderr).toContain('error: workflow file bad.yaml/x.yaml does not exist')
    const folder = await shiioo(cwd, 'run', '.')
    expect(folder.code).toBe(2)
    expect(folder.stderr).toContain('error: . is a directory, not a workflow file')

    const input = await shiioo(cwd, 'run', example('approval-gate'), '--input', 'version=2')
    expect(input.code).toBe(2)
    expect(input.stderr).toContain('input "version" must be a string')
    expect(input.stderr).toContain(`--input version='"2"'`)
  })

  it('runs a sub-workflow: the other files of the directory are registered first', async () => {
    const cwd = await dirs.make()
    const r = await shiioo(cwd, 'run', example('subworkflow'), '--json')
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/review waiting for child run run_\w+/)
    expect(json(r)).toMatchObject({
      status: 'completed',
      output: { words: 8, review: { critique: expect.stringContaining('[stand-in reviewer]') } },
    })
  })

  it('prints the exact decide command while an approval waits, and ends when it is run elsewhere', async () => {
    const cwd = await dirs.make()
    const child = spawn(process.execPath, [BIN, 'run', example('approval-gate'), '--input', 'version=v1'], {
      cwd,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
    const command = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no decide command printed; stderr:\n${stderr}`)), 20_000)
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        stderr += s
        const found = /decide from another terminal: .*shiioo\S* (decide .*)$/m.exec(stderr)
        if (found) {
          clearTimeout(timer)
          resolve(found[1]!)
        }
      })
    })
    expect(command).toMatch(new RegExp(`^decide ${RUN_ID.source} review approve$`))
    expect(stderr).toContain('| Publish these release notes for v1?')
    const decided = await shiioo(cwd, ...command.split(' '), '--comment', 'looks good')
    expect(decided.code).toBe(0)
    expect(decided.stdout).toMatch(/^approved step review of run run_\w+$/m)
    expect(await exited).toBe(0)
    expect(stderr).toMatch(/review approved by local:\S+: looks good/)
    expect(JSON.parse(stdout)).toMatchObject({ version: 'v1' })
  })

  it('exits non-zero when the run fails', async () => {
    const cwd = await dirs.make()
    await writeFile(
      join(cwd, 'fails.yaml'),
      'name: fails\nsteps:\n  - id: call\n    kind: tool\n    tool: no.such.tool\n    retry: { maxAttempts: 1 }\n',
    )
    const r = await shiioo(cwd, 'run', 'fails.yaml')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^run run_\w+ failed in .* at step call: .*no tool named "no\.such\.tool"/m)
    expect(r.stdout).toBe('')
  })
})

describe.concurrent('approval gate across commands: run --detach, decide, resume', () => {
  it('leaves the run waiting, records the decision, and resume completes it; runs list/show/state inspect it', async () => {
    const cwd = await dirs.make()
    const started = await shiioo(cwd, 'run', example('approval-gate'), '--input', 'version=v2.0', '--detach')
    expect(started.code).toBe(0)
    const runId = started.stdout.trim()
    expect(runId).toMatch(RUN_ID)

    const running = json<{ items: Array<Record<string, unknown>> }>(await shiioo(cwd, 'runs', 'list', '--json'))
    expect(running.items).toMatchObject([{ runId, workflow: { name: 'approval-gate' }, status: 'running' }])

    const decided = await shiioo(cwd, 'decide', runId, 'review', 'approve', '--comment', 'ship it', '--json')
    expect(decided.code).toBe(0)
    expect(json(decided)).toMatchObject({ runId, stepId: 'review', decision: 'approve', status: 'running' })

    const resumed = await shiioo(cwd, 'resume')
    expect(resumed.stderr).toContain(`resuming run ${runId} (workflow approval-gate)`)
    expect(resumed.stderr).toMatch(/^\[…\w{6}\] +\+\S+ {2}review completed/m)
    expect(resumed.stderr).toContain(`run ${runId} completed`)
    expect(resumed.code).toBe(0)
    const again = await shiioo(cwd, 'resume', '--json')
    expect(json(again)).toEqual({ resumed: [], paused: [], elsewhere: [], failed: [] })

    const table = await shiioo(cwd, 'runs', 'list')
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^RUN +WORKFLOW +STATUS +STARTED +DURATION$/m)
    expect(table.stdout).toMatch(
      new RegExp(`^${runId}  approval-gate  completed  \\d{4}-\\d\\d-\\d\\dT\\S+Z  \\d`, 'm'),
    )

    const show = await shiioo(cwd, 'runs', 'show', runId)
    expect(show.code).toBe(0)
    expect(show.stdout).toMatch(/^status +completed: all steps completed$/m)
    expect(show.stdout).toMatch(/^STEP +KIND +STATUS +ATTEMPTS +DURATION +DETAIL$/m)
    expect(show.stdout).toMatch(/^draft +agent +completed +1 /m)
    expect(show.stdout).toMatch(/^review +approval +completed +1 /m)
    expect(show.stdout).toMatch(/^review approved by local:\S+ at \S+: ship it$/m)
    const shown = json<{ status: string; lastSeq: number; decisions: Array<{ seq: number }> }>(
      await shiioo(cwd, 'runs', 'show', runId, '--json'),
    )
    expect(shown.status).toBe('completed')

    const at2 = await shiioo(cwd, 'runs', 'state', runId, '--at', '2')
    expect(at2.code).toBe(0)
    expect(at2.stdout).toMatch(/^as of +seq 2 /m)
    expect(at2.stdout).toMatch(/^status +running$/m)
    expect(at2.stdout).toMatch(/^draft +running +1 /m)
    // how far the detached process got before it exited varies: find the decision's seq
    const decidedAt = shown.decisions[0]!.seq
    const atDecision = json(await shiioo(cwd, 'runs', 'state', runId, '--at', String(decidedAt), '--json'))
    expect(atDecision).toMatchObject({
      asOf: { seq: decidedAt },
      lastSeq: decidedAt,
      decisions: [{ stepId: 'review', decision: 'approve' }],
    })
    const past = await shiioo(cwd, 'runs', 'state', runId, '--at', String(shown.lastSeq + 1))
    expect(past.code).toBe(2)
    expect(past.stderr).toContain(`seq must be a whole number from 1 to ${shown.lastSeq}`)
  })

  it('cancels and pauses from another command; a finished run refuses decisions', async () => {
    const cwd = await dirs.make()
    const runId = (
      await shiioo(cwd, 'run', example('approval-gate'), '--input', 'version=v3', '--detach')
    ).stdout.trim()
    expect((await shiioo(cwd, 'runs', 'pause', runId, '--reason', 'hold')).stdout).toBe(`${runId} paused\n`)
    expect(json(await shiioo(cwd, 'runs', 'resume', runId, '--json'))).toEqual({ runId, status: 'running' })
    expect((await shiioo(cwd, 'signal', runId, 'deploy.done', '--data', '{"ok":true}')).code).toBe(0)
    expect((await shiioo(cwd, 'runs', 'cancel', runId, '--reason', 'not now')).stdout).toBe(`${runId} cancelled\n`)
    const late = await shiioo(cwd, 'decide', runId, 'review', 'approve')
    expect(late.code).toBe(1)
    expect(late.stderr).toContain(`error: run ${runId} already cancelled`)
    const badData = await shiioo(cwd, 'signal', runId, 'x', '--data', '{nope')
    expect(badData.code).toBe(2)
    expect(badData.stderr).toContain('error: --data is not JSON')
  })

  it('serve resumes unfinished runs at start, in the background', async () => {
    const cwd = await dirs.make()
    const runId = (
      await shiioo(cwd, 'run', example('approval-gate'), '--input', 'version=v4', '--detach')
    ).stdout.trim()
    expect((await shiioo(cwd, 'decide', runId, 'review', 'approve')).code).toBe(0)
    const server = await startServe(['--port', '0', '--log-level', 'warn'], { cwd })
    try {
      expect(await statusWithin(cwd, runId, 'completed')).toBe('completed')
    } finally {
      expect((await server.stop()).code).toBe(0)
    }
  })
})

describe('serve takes over orphaned runs', () => {
  it('drives a run that another process left unfinished while the server was already up', async () => {
    const cwd = await dirs.make()
    const server = await startServe(['--port', '0', '--log-level', 'warn'], {
      cwd,
      env: { SHIIOO_ENGINE_SCAN_MS: '300' },
    })
    try {
      // started after the server's start-up scan, by a process that exits at once
      const runId = (
        await shiioo(cwd, 'run', example('approval-gate'), '--input', 'version=v5', '--detach')
      ).stdout.trim()
      expect((await shiioo(cwd, 'decide', runId, 'review', 'approve')).code).toBe(0)
      expect(await statusWithin(cwd, runId, 'completed')).toBe('completed')
    } finally {
      expect((await server.stop()).code).toBe(0)
    }
  })
})

describe('shiioo replay and fork', () => {
  it('replays a finished run (it matches) and forks it from a step', async () => {
    const cwd = await dirs.make()
    const first = json(await shiioo(cwd, 'run', example('linear-agent-pipeline'), '--input', 'topic=t', '--json'))
    const runId = first.runId as string
    const replay = await shiioo(cwd, 'replay', runId)
    expect(replay.code).toBe(0)
    expect(replay.stdout).toMatch(new RegExp(`^replay of run ${runId} matched: \\d+ events, .*0 agent or tool calls`))
    expect(json(await shiioo(cwd, 'replay', runId, '--json'))).toMatchObject({ runId, ok: true, mismatches: [] })

    const fork = await shiioo(cwd, 'fork', runId, '--from', 'edit', '--json')
    expect(fork.code).toBe(0)
    expect(fork.stderr).toContain(`research completed in 0.00 s (output reused from ${runId})`)
    expect(fork.stderr).toMatch(/^ +\+\S+ {2}edit started$/m)
    expect(json(fork)).toMatchObject({ status: 'completed', output: first.output })

    const unknown = await shiioo(cwd, 'fork', runId, '--from', 'nope')
    expect(unknown.code).toBe(2) // a bad argument, not a missing resource
    expect(unknown.stderr).toContain('has no step "nope"')
  })
})

describe('a run whose workflow definition is not stored', () => {
  it('runs show prints what the events hold with a note; replay and fork refuse, naming the definition', async () => {
    const cwd = await dirs.make()
    const first = json<{ runId: string; workflow: { hash: string } }>(
      await shiioo(cwd, 'run', example('linear-agent-pipeline'), '--input', 'topic=t', '--json'),
    )
    const { runId } = first
    const hash = first.workflow.hash
    await rm(join(cwd, 'data', 'blobs', hash.slice(0, 2), hash))

    const show = await shiioo(cwd, 'runs', 'show', runId)
    expect(show.code).toBe(0)
    expect(show.stdout).toMatch(/^workflow +linear-agent-pipeline \(definition not stored\)$/m)
    expect(show.stdout).toMatch(/^status +completed: all steps completed$/m)
    expect(show.stdout).toContain(`note: the workflow definition ${hash} is not stored;`)
    for (const step of ['research', 'draft', 'edit', 'package']) {
      expect(show.stdout).toMatch(new RegExp(`^${step} +\\? +completed +1 `, 'm'))
    }
    const view = json<{ definitionStored: boolean; stepsFrom: string }>(
      await shiioo(cwd, 'runs', 'show', runId, '--json'),
    )
    expect(view).toMatchObject({ definitionStored: false, stepsFrom: 'events' })

    const missing = `its workflow definition "linear-agent-pipeline" (${hash}) is not stored in tenant default`
    const replay = await shiioo(cwd, 'replay', runId)
    expect(replay.code).toBe(1)
    expect(replay.stderr).toContain(`error: cannot replay run ${runId}: ${missing}`)
    const fork = await shiioo(cwd, 'fork', runId, '--from', 'edit')
    expect(fork.code).toBe(1)
    expect(fork.stderr).toContain(`error: cannot fork run ${runId}: ${missing}`)
  })
})

describe.concurrent('run commands --help', () => {
  const commands: Array<[string[], string[]]> = [
    [[], ['run', 'runs', 'decide', 'signal', 'resume', 'replay', 'fork']],
    [['run'], ['<workflow-file>', '--input', '--idempotency-key', '--detach', '--json', '--data-dir', 'Exit code']],
    [['runs'], ['list', 'show', 'state', 'cancel', 'pause', 'resume']],
    [
      ['runs', 'list'],
      ['--status', '--workflow', '--limit', '--cursor', '--json', '--data-dir'],
    ],
    [
      ['runs', 'show'],
      ['<run-id>', '--json', '--data-dir'],
    ],
    [
      ['runs', 'state'],
      ['<run-id>', '--at', '--json'],
    ],
    [
      ['runs', 'cancel'],
      ['<run-id>', '--reason', '--json'],
    ],
    [
      ['runs', 'pause'],
      ['<run-id>', '--reason', '--json'],
    ],
    [
      ['runs', 'resume'],
      ['<run-id>', '--wait', '--json'],
    ],
    [['decide'], ['<run-id>', '<step>', '<decision>', '--comment', '--item', '--json']],
    [['signal'], ['<run-id>', '<event-name>', '--data', '--json']],
    [['resume'], ['--json', '--data-dir']],
    [['replay'], ['<run-id>', '--json']],
    [['fork'], ['<run-id>', '--from', '--detach', '--json']],
  ]
  // in-process: help is static text, and a process per command would only add start-up time
  it.each(commands)('shiioo %j --help lists its options', async (command, expected) => {
    let stdout = ''
    const sink = { write: (s: string) => (stdout += s) }
    const code = await runInProcess([...command, '--help'], { out: sink, err: sink }, await dirs.make(), 'shiioo')
    expect(code).toBe(0)
    for (const word of expected) expect(stdout).toContain(word)
  })
})
