import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliResult } from './helpers.js'
import { BIN, assertBuilt, cleanEnv, runCli, tempDirs } from './helpers.js'

/**
 * Takeover of runs whose driver is gone, with real processes: a driver killed with SIGKILL whose
 * parent never reaps it (a zombie, as under a container's PID 1), a driver frozen with SIGSTOP past
 * its lease TTL and woken after another process took its run over, and a data dir whose owners name
 * another host (a pod restarted elsewhere on the same volume).
 */

const APPROVAL = fileURLToPath(new URL('../../../examples/workflows/approval-gate.yaml', import.meta.url))
const RUN_ID = /run_[0-9A-HJKMNP-TV-Z]{26}/
const dirs = tempDirs()
const spawned: ChildProcess[] = []
beforeAll(() => assertBuilt())
afterAll(async () => {
  for (const c of spawned) if (c.exitCode === null) c.kill('SIGKILL')
  await dirs.cleanup()
})

interface Live {
  child: ChildProcess
  output(): string
  /** Resolves with the output once it matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
  done: Promise<CliResult>
}

function start(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Live {
  const child = spawn(command, args, { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  spawned.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  const done = new Promise<CliResult>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  )
  return {
    child,
    output: () => stdout + stderr,
    done,
    async waitFor(pattern, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs
      while (!pattern.test(stdout + stderr)) {
        if (Date.now() > until) throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${stdout}${stderr}`)
        if (child.exitCode !== null)
          throw new Error(`exited ${child.exitCode} before ${pattern}; output:\n${stdout}${stderr}`)
        await sleep(25)
      }
      return stdout + stderr
    },
  }
}

const shiioo = (cwd: string, env: Record<string, string>, ...args: string[]) =>
  start(process.execPath, [BIN, ...args], cwd, env)

function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
}

async function eventsOf(cwd: string, runId: string): Promise<Array<{ type: string; data: { stepId?: string } }>> {
  const r = await runCli(['events', runId, '--json'], { cwd })
  expect(r.code).toBe(0)
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; data: { stepId?: string } })
}

/** Every step completed exactly once and the run completed once: nothing ran twice. */
async function expectCompletedOnce(cwd: string, runId: string): Promise<void> {
  const events = await eventsOf(cwd, runId)
  const completed = events.filter((e) => e.type === 'step.completed').map((e) => e.data.stepId)
  expect(completed.sort()).toEqual(['draft', 'publish', 'review'])
  expect(events.filter((e) => e.type === 'run.completed')).toHaveLength(1)
  const verify = await runCli(['verify'], { cwd })
  expect(verify.stdout + verify.stderr).toMatch(/^ok: /m)
}

describe.concurrent('takeover of runs whose driver is gone', () => {
  it('resumes at once a run whose driver was killed and left a zombie (its parent never reaps it)', async () => {
    const cwd = await dirs.make()
    // sh starts the run, then becomes `sleep`, which never waits for its child
    const holder = start(
      'sh',
      ['-c', `"${process.execPath}" "${BIN}" run "${APPROVAL}" --input version=v1 & echo "pid $!"; exec sleep 600`],
      cwd,
    )
    const out = await holder.waitFor(/review waiting for approval/)
    const pid = Number(/pid (\d+)/.exec(out)![1])
    const runId = RUN_ID.exec(out)![0]
    process.kill(pid, 'SIGKILL')
    while (procState(pid) !== 'Z') await sleep(10)
    const resume = shiioo(cwd, {}, 'resume')
    await resume.waitFor(new RegExp(`resuming run ${runId}`), 15_000)
    expect(resume.output()).not.toMatch(/driven by another process/)
    expect(procState(pid)).toBe('Z') // still a zombie: it was judged gone, not waited for
    const decide = await runCli(['decide', runId, 'review', 'approve'], { cwd })
    expect(decide.code).toBe(0)
    const r = await resume.done
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/1 of 1 resumed run completed/)
    await expectCompletedOnce(cwd, runId)
  }, 60_000)

  it('takes over a run whose driver was frozen past its lease TTL; woken, the old driver writes nothing', async () => {
    const cwd = await dirs.make()
    // long enough that the first `resume` below surely starts within it, on a busy machine too
    const env = { SHIIOO_STORAGE_LEASE_TTL_MS: '5000' }
    const frozen = shiioo(cwd, env, 'run', APPROVAL, '--input', 'version=v2')
    const out = await frozen.waitFor(/review waiting for approval/)
    const runId = RUN_ID.exec(out)![0]
    frozen.child.kill('SIGSTOP')
    // within the TTL its heartbeat may still be current: the run is left to it
    const early = await runCli(['resume', '--json'], { cwd, env })
    expect(JSON.parse(early.stdout)).toMatchObject({ resumed: [], elsewhere: [runId] })
    await sleep(5500)
    const resume = shiioo(cwd, env, 'resume')
    await resume.waitFor(new RegExp(`resuming run ${runId}`), 15_000)
    const before = (await eventsOf(cwd, runId)).length
    expect(
      (await runCli(['decide', runId, 'review', 'approve', '--comment', 'after takeover'], { cwd, env })).code,
    ).toBe(0)
    const r = await resume.done
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/1 of 1 resumed run completed/)
    const after = await eventsOf(cwd, runId)
    expect(after.length).toBeGreaterThan(before)
    // wake the old driver: it learns it lost its lease, writes nothing, and says so
    frozen.child.kill('SIGCONT')
    const old = await frozen.done
    expect(old.stderr).toMatch(/lost its leases|driven by another process/)
    expect(await eventsOf(cwd, runId)).toEqual(after)
    await expectCompletedOnce(cwd, runId)
  }, 60_000)

  it('leaves runs to owners that name another host while their heartbeat is fresh, and takes them over after the TTL', async () => {
    const cwd = await dirs.make()
    const driver = shiioo(cwd, {}, 'run', APPROVAL, '--input', 'version=v3')
    const out = await driver.waitFor(/review waiting for approval/)
    const runId = RUN_ID.exec(out)![0]
    driver.child.kill('SIGKILL')
    await driver.done
    // the same volume mounted by a new pod: the old owner names a host, kernel and pid space this one cannot ask
    const locks = join(cwd, 'data', 'locks')
    for (const name of readdirSync(locks).filter((n) => n.endsWith('.owner'))) {
      const owner = JSON.parse(readFileSync(join(locks, name), 'utf8')) as Record<string, unknown>
      writeFileSync(
        join(locks, name),
        JSON.stringify({ ...owner, host: 'old-pod', boot: 'other-kernel', pidns: 'pid:[9]', pid: 1, ttlMs: 5000 }),
      )
    }
    const early = await runCli(['resume', '--json'], { cwd })
    expect(JSON.parse(early.stdout)).toMatchObject({ resumed: [], elsewhere: [runId] })
    const rebuild = await runCli(['index', 'rebuild'], { cwd })
    expect(rebuild.code).toBe(1)
    expect(rebuild.stderr).toMatch(/in use by process 1 on old-pod/)
    await sleep(5500)
    const resume = shiioo(cwd, {}, 'resume')
    await resume.waitFor(new RegExp(`resuming run ${runId}`), 15_000)
    expect((await runCli(['decide', runId, 'review', 'approve'], { cwd })).code).toBe(0)
    expect((await resume.done).code).toBe(0)
    await expectCompletedOnce(cwd, runId)
    expect((await runCli(['index', 'rebuild'], { cwd })).code).toBe(0)
  }, 60_000)
})
