import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliResult } from './helpers.js'
import { BIN, assertBuilt, cleanEnv, collect, tempDirs } from './helpers.js'

/**
 * Hostile workflow files and inputs given to the real CLI (`shiioo run`): nesting far past every
 * limit in JSON and in each YAML form, next to each other in one folder (two such files used to
 * abort the process in V8's regexp compiler), files over the size limit, pathological strings
 * (control characters, invalid UTF-8, unbalanced templates, alias bombs, tags, huge numbers),
 * expression bombs and inputs nested or shaped wrong. Every case must end within a time bound
 * (killed after 10 s: a failure) and a heap bound (an out-of-memory abort: a failure), exit 2 with
 * an error message and no internal error, and leave the data dir as it was (empty).
 */

const TIME_BOUND_MS = 10_000
const HEAP_MB = 256
const RUNS = Number(process.env.FUZZ_RUNS ?? 24)

const dirs = tempDirs()
beforeAll(() => assertBuilt())
afterAll(() => dirs.cleanup())

interface Case {
  what: string
  /** The file `shiioo run` is given, then other files in its folder. */
  files: Array<{ name: string; text: string | Buffer }>
  inputs?: string[]
}

const VALID_STEPS = 'steps:\n  - id: a\n    kind: transform\n    output: { ok: true }\n'

function deepJson(depth: number, open: string, close: string, leaf = '1'): string {
  return open.repeat(depth) + leaf + close.repeat(depth)
}

function withOutput(output: string, name = 'fuzz'): string {
  return `{"name":"${name}","steps":[{"id":"a","kind":"transform","output":${output}}]}`
}

const nestingJson = fc
  .record({ depth: fc.integer({ min: 129, max: 20_000 }), lists: fc.boolean(), sibling: fc.boolean() })
  .map(({ depth, lists, sibling }): Case => {
    const text = withOutput(lists ? deepJson(depth, '[', ']') : deepJson(depth, '{"a":', '}'))
    return {
      what: `JSON nested ${depth} levels${sibling ? ', next to another such file' : ''}`,
      files: [
        { name: 'main.json', text },
        ...(sibling ? [{ name: 'other.json', text: withOutput(deepJson(depth, '{"b":', '}'), 'other') }] : []),
      ],
    }
  })

const nestingYaml = fc
  .record({ depth: fc.integer({ min: 129, max: 3000 }), form: fc.constantFrom('maps', 'lists', 'flow', 'mixed') })
  .map(({ depth, form }): Case => {
    let output: string
    if (form === 'maps') output = '\n' + Array.from({ length: depth }, (_, i) => `${' '.repeat(6 + i)}a:\n`).join('')
    else if (form === 'lists') output = ' ' + '- '.repeat(depth) + '1\n'
    else if (form === 'flow') output = ' ' + deepJson(depth, '{a: ', '}') + '\n'
    else output = '\n' + Array.from({ length: depth }, (_, i) => `${' '.repeat(6 + 2 * i)}- x: [\n`).join('')
    return {
      what: `YAML nested ${depth} levels as ${form}`,
      files: [{ name: 'main.yaml', text: `name: fuzz\nsteps:\n  - id: a\n    kind: transform\n    output:${output}` }],
    }
  })

const oversize = fc
  .record({ extra: fc.integer({ min: 1, max: 1024 * 1024 }), oneLine: fc.boolean() })
  .map(({ extra, oneLine }): Case => ({
    what: `a definition ${extra} bytes over the size limit${oneLine ? ' on one line' : ''}`,
    files: [
      {
        name: 'main.yaml',
        text: `name: fuzz\ndescription: "${oneLine ? 'x'.repeat(1024 * 1024 + extra) : 'x\\n'.repeat((1024 * 1024 + extra) / 3 + 1)}"\n${VALID_STEPS}`,
      },
    ],
  }))

const PATHOLOGICAL = [
  '\u0000\u0001\u0002\u001b[31m',
  '${{'.repeat(2000),
  '${{ ' + '{'.repeat(3000) + ' }}',
  '"'.repeat(5000),
  '\\'.repeat(5001),
  "'".repeat(4999),
  '&a [*a]',
  '!!js/function "function(){}"',
  '!!binary AAAA',
  '<<: *nothing',
  '? - - - ? - -',
  '1e999999',
  '__proto__: { polluted: true }',
  '\t\t- tab',
  '\ufeff',
  '{'.repeat(100) + '['.repeat(100),
  '- ' + '&x'.repeat(3000),
  '*'.repeat(3000),
]

const billionLaughs =
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
  Array.from({ length: 8 }, (_, i) => {
    const prev = i === 0 ? 'a' : String.fromCharCode(98 + i - 1)
    const me = String.fromCharCode(98 + i)
    return `${me}: &${me} [${Array.from({ length: 9 }, () => `*${prev}`).join(',')}]\n`
  }).join('') +
  'name: fuzz\n' +
  VALID_STEPS.replace('output: { ok: true }', 'output: *i')

const pathological = fc
  .record({
    snippet: fc.constantFrom(...PATHOLOGICAL),
    place: fc.constantFrom('name', 'output', 'key', 'top', 'prompt'),
    repeat: fc.integer({ min: 1, max: 40 }),
    invalidUtf8: fc.boolean(),
  })
  .map(({ snippet, place, repeat, invalidUtf8 }): Case => {
    const s = snippet.repeat(repeat)
    const quoted = JSON.stringify(s)
    const text =
      place === 'name'
        ? `name: ${quoted}\n${VALID_STEPS}`
        : place === 'output'
          ? `name: fuzz\nsteps:\n  - id: a\n    kind: transform\n    output: ${s}\n  - id: ${quoted}\n`
          : place === 'key'
            ? `name: fuzz\n${s}: 1\n${VALID_STEPS}`
            : place === 'prompt'
              ? `name: fuzz\nsteps:\n  - id: a\n    kind: agent\n    role: r\n    prompt: ${quoted}\n    when: ${quoted}\n`
              : `${s}\nname: fuzz\n${VALID_STEPS}`
    const bytes = invalidUtf8 ? Buffer.concat([Buffer.from(text), Buffer.from([0xc3, 0x28, 0xff, 0xfe])]) : text
    return {
      what: `${JSON.stringify(snippet.slice(0, 20))} x${repeat} in ${place}`,
      files: [{ name: 'main.yaml', text: bytes }],
    }
  })

const aliasBomb = fc.constant<Case>({ what: 'a billion laughs', files: [{ name: 'main.yaml', text: billionLaughs }] })

const expressionBomb = fc
  .record({ depth: fc.integer({ min: 251, max: 2000 }), where: fc.constantFrom('when', 'output', 'items') })
  .map(({ depth, where }): Case => {
    const expr = deepJson(depth, '(', ')', '[1]')
    const step =
      where === 'items'
        ? `  - id: a\n    kind: foreach\n    items: "${expr}"\n    step: { kind: transform, output: 1 }\n`
        : where === 'when'
          ? `  - id: a\n    kind: transform\n    when: "${expr} == [1]"\n    output: 1\n`
          : `  - id: a\n    kind: transform\n    output: '\${{ ${expr} }}'\n`
    return {
      what: `an expression nested ${depth} levels in ${where}`,
      files: [{ name: 'main.yaml', text: `name: fuzz\nsteps:\n${step}` }],
    }
  })

const INPUT_WORKFLOW = 'name: fuzz\ninputs:\n  x: { type: object }\n' + VALID_STEPS

const badInput = fc
  .oneof(
    fc.integer({ min: 64, max: 20_000 }).map((d) => `x=${deepJson(d, '{"a":', '}')}`),
    fc.integer({ min: 64, max: 20_000 }).map((d) => `x={"a":${deepJson(d, '[', ']')}}`),
    fc.constantFrom('x=[1,2]', 'x="text"', 'x=1e999', 'x', '=1', 'y={}', 'x={"a":1', `x=${'['.repeat(60_000)}`),
  )
  .map((input): Case => ({
    what: `--input ${input.slice(0, 30)}`,
    files: [{ name: 'main.yaml', text: INPUT_WORKFLOW }],
    inputs: [input],
  }))

const cases = fc.oneof(nestingJson, nestingYaml, oversize, pathological, aliasBomb, expressionBomb, badInput)

/** `shiioo run` on the case's main file, killed after the time bound, with a bounded heap. */
function runBounded(cwd: string, c: Case): Promise<CliResult & { killed: boolean }> {
  const args = ['run', c.files[0]!.name, '--data-dir', 'data', '--log-level', 'silent']
  for (const i of c.inputs ?? []) args.push('--input', i)
  const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, BIN, ...args], {
    cwd,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let killed = false
  const timer = setTimeout(() => {
    killed = true
    child.kill('SIGKILL')
  }, TIME_BOUND_MS)
  return collect(child).then((r) => {
    clearTimeout(timer)
    return { ...r, killed }
  })
}

describe('hostile workflow files and inputs', () => {
  it('end within a time and memory bound with exit 2 and a message, and change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const cwd = await dirs.make('shiioo-fuzz-')
        for (const f of c.files) writeFileSync(join(cwd, f.name), f.text)
        mkdirSync(join(cwd, 'data'))
        const r = await runBounded(cwd, c)
        const stderr = r.stderr.slice(0, 2000)
        expect({ what: c.what, killed: r.killed, signal: r.signal, code: r.code }).toEqual({
          what: c.what,
          killed: false,
          signal: null,
          code: 2,
        })
        expect(stderr, c.what).toMatch(/^(error|note): /m)
        expect(stderr, c.what).not.toMatch(/internal error|FATAL|RangeError|Maximum call stack/)
        expect(readdirSync(join(cwd, 'data')), `${c.what}: bad input changes nothing`).toEqual([])
      }),
      { numRuns: RUNS },
    )
  }, 600_000)
})
