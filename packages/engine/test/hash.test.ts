import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { canonicalJson, hashWorkflow, parseWorkflow, validateWorkflow } from '../src/index.js'
import type { WorkflowDefinition } from '../src/index.js'

const yamlText = readFileSync(new URL('./fixtures/brief.yaml', import.meta.url), 'utf8')
/** The fixture as plain data, read by the yaml package directly rather than through parseWorkflow. */
const plain = () => parseYaml(yamlText) as Record<string, unknown>

function parsed(text: string, format?: 'yaml' | 'json'): { workflow: WorkflowDefinition; hash: string } {
  const result = parseWorkflow(text, format)
  if (!result.ok) throw new Error(JSON.stringify(result.errors))
  return result
}

/** A deep copy with every object's keys in reverse order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reversedKeys(v)]),
    )
  }
  return value
}

describe('hashWorkflow', () => {
  const fromYaml = parsed(yamlText)

  it('is the same for YAML, JSON, reordered keys and the normalized form', () => {
    const raw = plain()
    const fromJson = parsed(JSON.stringify(raw, null, 2), 'json')
    const reordered = validateWorkflow(reversedKeys(raw))
    expect(fromJson.hash).toBe(fromYaml.hash)
    expect(reordered.ok && reordered.hash).toBe(fromYaml.hash)
    expect(hashWorkflow(fromYaml.workflow)).toBe(fromYaml.hash)
    expect(hashWorkflow(raw as never)).toBe(fromYaml.hash)
    const again = validateWorkflow(fromYaml.workflow)
    expect(again.ok && again.workflow).toEqual(fromYaml.workflow)
  })

  it('treats spelled-out defaults, equal durations and set order as the same', () => {
    const raw = plain() as { steps: Record<string, unknown>[]; $schema?: string }
    raw.$schema = './workflow.schema.json'
    raw.steps[0]!.timeout = 30_000
    raw.steps[0]!.retry = {
      maxAttempts: 3,
      backoff: { initial: '1000ms', max: '30s' },
      retryOn: ['TIMEOUT', 'UNAVAILABLE', 'RATE_LIMITED'],
    }
    raw.steps[6]!.needs = ['child', 'per_source']
    raw.steps[2]!.retry = {}
    expect(hashWorkflow(raw as never)).toBe(fromYaml.hash)
  })

  it('changes with any change of meaning', () => {
    const variants: ((d: WorkflowDefinition) => void)[] = [
      (d) => ((d.steps[1] as { prompt: string }).prompt += '!'),
      (d) => (d.steps[0]!.timeout = 31_000),
      (d) => (d.steps[0]!.retry.maxAttempts = 4),
      (d) => d.steps[6]!.needs.push('fetch'),
      (d) => (d.name = 'other-name'),
      (d) => (d.steps[1]!.when = 'true'),
      (d) => d.steps.reverse(),
    ]
    const hashes = variants.map((change) => {
      const copy = structuredClone(fromYaml.workflow)
      change(copy)
      return hashWorkflow(copy)
    })
    for (const h of hashes) expect(h).not.toBe(fromYaml.hash)
    expect(new Set(hashes).size).toBe(hashes.length)
  })

  it('refuses a definition that does not validate', () => {
    expect(() => hashWorkflow({ name: 'x', steps: [] })).toThrow(
      'cannot hash a workflow definition that does not validate',
    )
  })
})

describe('canonicalJson', () => {
  it('sorts keys at every level and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [{ d: true, c: null }], é: 'x', A: 0.5 })).toBe(
      '{"A":0.5,"a":[{"c":null,"d":true}],"b":1,"é":"x"}',
    )
  })
})
